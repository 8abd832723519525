"""External tools a build uses: zig (links model.so for any triple) and nvcc (CUDA targets)."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ..errors import ToolchainError
from ..targets import Target

# Where CUDA toolkits install nvcc when it is not on PATH.
CUDA_DIRS = ("/usr/local/cuda/bin",)

# Packages whose versions change the bytes a build produces (recorded, and part of the cache key).
PACKAGES = ("edgebuild", "torch", "onnx", "onnxruntime", "onnxslim", "apache-tvm", "apache-tvm-ffi",
            "ziglang", "numpy", "transformers", "scikit-learn")


def versions() -> dict[str, str]:
    """Toolchain versions without importing the (slow) packages themselves."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def zig_linker(zig_target: str, flags: list[str] | tuple[str, ...] = ()):
    """An export_library fcompile that links a shared library with zig for `zig_target`."""
    if importlib.util.find_spec("ziglang") is None:
        raise ToolchainError("model.so is linked with zig, which is not installed: pip install ziglang")

    def fcompile(output: str, objects: list[str], options: list[str] | None = None) -> None:
        # -s: no debug info or static symbol table; the runtime finds functions through .dynsym.
        cmd = [sys.executable, "-m", "ziglang", "cc", "-target", zig_target, "-shared", "-fPIC", "-s",
               *flags, "-o", output, *objects, *(options or [])]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise ToolchainError(f"linking {Path(output).name} for {zig_target} failed:\n{done.stderr.strip()}")

    fcompile.output_format = "so"
    return fcompile


def host_zig_target() -> str:
    """zig's name for this machine (code built here to run here)."""
    return f"{platform.machine()}-linux-gnu"


def find_nvcc(env: dict[str, str] | None = None, search: tuple[str, ...] | None = None) -> Path | None:
    env = os.environ if env is None else env
    search = CUDA_DIRS if search is None else search
    for base in (env.get("CUDA_PATH"), env.get("CUDA_HOME")):
        if base and (Path(base) / "bin" / "nvcc").is_file():
            return Path(base) / "bin" / "nvcc"
    on_path = shutil.which("nvcc", path=env.get("PATH", ""))
    if on_path:
        return Path(on_path)
    for folder in search:
        if (Path(folder) / "nvcc").is_file():
            return Path(folder) / "nvcc"
    return None


def require(target: Target) -> dict[str, str]:
    """Check the external tools `target` needs; returns their versions. Raises naming what to install."""
    found = {}
    if "nvcc" in target.requires:
        nvcc = find_nvcc()
        if nvcc is None:
            raise ToolchainError(
                f"target {target.name!r} needs nvcc (the CUDA toolkit) to compile its GPU kernels, and none was found "
                "on PATH, in $CUDA_PATH/bin, $CUDA_HOME/bin or /usr/local/cuda/bin. Install the CUDA toolkit "
                "(e.g. `apt-get install nvidia-cuda-toolkit`, or NVIDIA's cuda-toolkit package) or set CUDA_PATH."
            )
        out = subprocess.run([str(nvcc), "--version"], capture_output=True, text=True, timeout=60).stdout
        found["nvcc"] = out.strip().splitlines()[-1] if out.strip() else str(nvcc)
        found["nvcc_path"] = str(nvcc)
        # The device refuses a bundle whose kernels need a newer CUDA than its driver (device/gpu.py).
        found["cuda_toolkit"] = cuda_release(out, nvcc)
    return found


def cuda_release(version_text: str, nvcc: Path | str = "nvcc") -> str:
    """The CUDA release ("13.0") from `nvcc --version`'s "Cuda compilation tools, release 13.0, V13.0.88"."""
    found = re.search(r"release (\d+)\.(\d+)", version_text)
    if found is None:
        raise ToolchainError(f"cannot read the CUDA release from `{nvcc} --version` (no 'release X.Y' in its output: "
                             f"{version_text.strip()[-200:]!r}); point CUDA_PATH at a CUDA toolkit's folder")
    return f"{found.group(1)}.{found.group(2)}"
