"""Hardware targets: one TOML file per board in targets/, validated by `Target`."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from .project import Project
from .registry import DataFolder

# The build machine's CPU, resolved at build time (LLVM rejects mcpu=native for its own triple).
NATIVE = "native"


@dataclass(frozen=True)
class Link:
    """How model.so is linked: zig's hermetic cross toolchain, so no system packages are needed."""

    zig_target: str  # e.g. "aarch64-linux-gnu.2.28": triple plus the oldest glibc it may use
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    description: str
    arch: Literal["x86_64", "aarch64", "armv7l"]  # platform.machine() on the device
    cores: int
    tvm: dict[str, Any]  # TVM target in dict form; the string form raises in TVM 0.27
    link: Link
    host: dict[str, Any] | None = None  # TVM host target, for accelerator targets (CUDA)
    requires: list[Literal["nvcc"]] = field(default_factory=list)
    # Whether PyPI publishes apache-tvm runtime wheels for `arch` (none exist for armv7l).
    runtime_wheels: bool = True
    name: str = field(default="", metadata={"derived": True})

    def __post_init__(self):
        if not isinstance(self.tvm.get("kind"), str):
            raise ValueError("key 'tvm': needs kind = \"llvm\" or another TVM target kind")
        if self.cores < 1:
            raise ValueError(f"key 'cores': must be >= 1, got {self.cores}")
        if self.tvm["kind"] != "llvm" and self.host is None:
            raise ValueError(f"key 'host': a {self.tvm['kind']!r} target needs a [host] TVM target for its CPU side")

    @property
    def is_native(self) -> bool:
        """True when code is generated for the build machine's own CPU model."""
        cpu_side = self.host or self.tvm
        return cpu_side.get("mcpu") == NATIVE

    def cpu_tvm(self) -> dict[str, Any]:
        """The TVM target that runs the CPU side (the host target for accelerators)."""
        return self.host or self.tvm


def folder(project: Project) -> DataFolder[Target]:
    return DataFolder(project.targets_dir, Target, "target")


def load(project: Project, name: str) -> Target:
    return folder(project).load(name)


def host_cpu_fingerprint() -> str:
    """Identifies this machine's CPU model and features (what mcpu=native resolves to)."""
    try:
        lines = open("/proc/cpuinfo", encoding="utf-8").read().splitlines()
    except OSError:
        return "unknown"
    keep = [ln for ln in lines if ln.split(":")[0].strip() in ("model name", "flags", "Features", "CPU part")]
    keep.append(f"cpus: {os.cpu_count()}")
    return hashlib.sha256("\n".join(sorted(set(keep))).encode()).hexdigest()[:16]
