"""The TVM runtime-only bundle a device needs: built on the host from the device's own wheels.

`pip download` fetches the manylinux wheels of apache-tvm (the host's version), apache-tvm-ffi (the
host's version, inside pyproject's pin), numpy, ml-dtypes and typing_extensions for the device's
arch and Python. They are unpacked without the compiler (libtvm_compiler.so, ~240 MB), headers and
sources, and packed into one reproducible tar.gz whose sha256 is the runtime's id. Everything is
cached under build/.cache/runtime/, so only the first provisioning of an arch/Python downloads.

The baseline runtime (kind "onnxruntime") is ONNX Runtime's own wheel for the device, the host's
version, without its dependencies: importing onnxruntime needs only numpy, which the device takes
from the TVM runtime (so both engines run on one numpy). It unpacks beside the TVM runtime, in its
own folder (FOLDERS), and is identified by its archive's sha256 like the TVM runtime.

A CUDA target's runtime (kind "tvm-cuda") keeps TVM's libtvm_runtime_cuda.so and adds the CUDA runtime
library it links against (libcudart.so.N) from NVIDIA's PyPI wheel nvidia-cuda-runtime, for the
device's arch; the driver (libcuda.so.1) is the device's own. The agent loads that libcudart first
and refuses a driver too old for it (device/gpu.py); the README's lab section says which
combination edgebuild supports and why.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import DeviceError
from ..models.base import sha256_file
from ..project import Project

# Per arch: the platform tags pip may pick (oldest first); none exist for armv7l on PyPI.
PLATFORMS = {
    "aarch64": ["manylinux2014_aarch64", "manylinux_2_24_aarch64", "manylinux_2_27_aarch64", "manylinux_2_28_aarch64"],
    "x86_64": ["manylinux2014_x86_64", "manylinux_2_24_x86_64", "manylinux_2_27_x86_64", "manylinux_2_28_x86_64"],
}
# Left out of the device bundle: the compiler and what only building against TVM needs; the CUDA
# runtime library only goes to devices whose target is a CUDA one (kind "tvm-cuda").
EXCLUDE_FILES = {"libtvm_compiler.so", "libtvm_runtime_cuda.so"}  # core needs libtvm_ffi_testing.so
CUDA_LIBRARY = "libtvm_runtime_cuda.so"
# apache-tvm 0.27's libtvm_runtime_cuda.so (x86-64 and aarch64 wheels) needs libcudart.so.13
# (`readelf -d`, 2026-11-29); _pack checks that the wheel below provides the soname it names.
CUDA_MAJOR = 13
CUDA_RUNTIME = f"nvidia-cuda-runtime=={CUDA_MAJOR}.*"
EXCLUDE_DIRS = {("tvm", "3rdparty"), ("tvm", "src"), ("tvm", "include"), ("tvm_ffi", "include"),
                ("tvm_ffi", "3rdparty"), ("nvidia", f"cu{CUDA_MAJOR}", "include")}
MIN_PYTHON = (3, 10)
# Where each runtime kind lives in the device's work dir (device/commit.py accepts only these).
FOLDERS = {"tvm": "runtime", "tvm-cuda": "runtime", "onnxruntime": "runtime-onnxruntime"}


@dataclass(frozen=True)
class RuntimeBundle:
    id: str  # sha256 of the tar.gz
    archive: Path
    kind: str
    arch: str
    python: str  # "3.11"
    versions: dict[str, str]
    files: int
    unpacked_bytes: int

    def describe(self) -> dict:
        return {"id": self.id, "kind": self.kind, "arch": self.arch, "python": self.python, "versions": self.versions,
                "files": self.files, "unpacked_bytes": self.unpacked_bytes,
                "archive_bytes": self.archive.stat().st_size}


def requirements(kind: str = "tvm") -> list[str]:
    """apache-tvm and apache-tvm-ffi exactly as on the host (the compiler that built model.so); for a
    CUDA target also the CUDA runtime library TVM's CUDA runtime links against."""
    pins = []
    for dist in ("apache-tvm", "apache-tvm-ffi"):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            raise DeviceError(f"{dist} is not installed on this host; `pip install -e .` first") from None
    return pins + ["numpy", "ml-dtypes", "typing_extensions"] + ([CUDA_RUNTIME] if kind == "tvm-cuda" else [])


def check_supported(arch: str, python: tuple[int, ...], device: str) -> None:
    if tuple(python[:2]) < MIN_PYTHON:
        raise DeviceError(f"{device}: its Python is {'.'.join(map(str, python))}; the TVM runtime needs "
                          f"Python >= 3.10. Install python3.10 or newer on the device (Raspberry Pi OS Bookworm "
                          f"has 3.11) and point the device's `python` key at it")
    if arch not in PLATFORMS:
        raise DeviceError(f"{device}: no TVM runtime is available for {arch}: PyPI publishes apache-tvm wheels "
                          f"only for {', '.join(sorted(PLATFORMS))}. Builds for this target still work; running "
                          f"them needs a TVM runtime built from source on the device")


def baseline_requirements() -> list[str]:
    try:
        return [f"onnxruntime=={metadata.version('onnxruntime')}"]
    except metadata.PackageNotFoundError:
        raise DeviceError("onnxruntime is not installed on this host; `pip install -e .` first") from None


def prepare(project: Project, arch: str, python: tuple[int, ...], say=print, kind: str = "tvm") -> RuntimeBundle:
    """The cached runtime bundle of `kind` for `arch` and `python`, downloading and packing it the first time."""
    check_supported(arch, python, "device")
    pyver = f"{python[0]}.{python[1]}"
    reqs = baseline_requirements() if kind == "onnxruntime" else requirements(kind)
    exclude = excluded_files(kind)
    key = hashlib.sha256(json.dumps([arch, pyver, reqs, sorted(exclude)]).encode()).hexdigest()[:12]
    prefix = "" if kind == "tvm" else f"{kind}-"
    folder = project.cache_dir / "runtime" / f"{prefix}{arch}-cp{pyver.replace('.', '')}-{key}"
    info = folder / "runtime.json"
    if info.is_file():
        try:
            data = json.loads(info.read_text())
            archive = folder / "runtime.tar.gz"
            if archive.is_file() and sha256_file(archive) == data["id"]:
                return RuntimeBundle(data["id"], archive, kind, arch, pyver, data["versions"], data["files"],
                                     data["unpacked_bytes"])
        except (OSError, ValueError, KeyError):
            pass
        say(f"the cached runtime in {folder} is corrupt (its archive does not match its recorded sha256); repacking")
        info.unlink()
    wheels = folder / "wheels"
    if not any(wheels.glob("*.whl")):
        _download(wheels, arch, pyver, reqs, say, no_deps=kind == "onnxruntime")
    say(f"packing the {kind} runtime bundle (without {', '.join(sorted(exclude)) or 'nothing'})")
    archive, files, size, versions = _pack(sorted(wheels.glob("*.whl")), folder / "runtime.tar.gz", exclude,
                                           cuda=kind == "tvm-cuda")
    digest = sha256_file(archive)
    wheel_sha256 = {w.name: sha256_file(w) for w in sorted(wheels.glob("*.whl"))}
    info.write_text(json.dumps({"id": digest, "versions": versions, "files": files, "unpacked_bytes": size,
                                "wheels": wheel_sha256}, indent=1))
    return RuntimeBundle(digest, archive, kind, arch, pyver, versions, files, size)


def _download(dest: Path, arch: str, pyver: str, reqs: list[str], say, no_deps: bool = False) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    abi = f"cp{pyver.replace('.', '')}"
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", str(dest),
            "--only-binary=:all:", "--implementation", "cp", "--python-version", pyver,
            "--abi", abi, "--abi", "abi3", "--abi", "none"]
    for tag in PLATFORMS[arch]:
        argv += ["--platform", tag]
    if no_deps:
        argv.append("--no-deps")
    say(f"downloading {arch} wheels for Python {pyver}: {' '.join(reqs)}")
    result = subprocess.run(argv + reqs, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeviceError(f"pip download of the {arch} runtime wheels failed: {result.stderr.strip()[-800:]}. "
                          f"PyPI must be reachable (or a pip index configured) the first time")


def excluded_files(kind: str) -> set[str]:
    """What a runtime of `kind` leaves out: a CUDA target's runtime keeps TVM's CUDA runtime library."""
    return {"tvm": EXCLUDE_FILES, "tvm-cuda": EXCLUDE_FILES - {CUDA_LIBRARY}}.get(kind, set())


def kind_for(target) -> str:
    return "tvm-cuda" if target.tvm.get("kind") == "cuda" else "tvm"


def _excluded(parts: tuple[str, ...], exclude: set[str] = EXCLUDE_FILES) -> bool:
    if parts[-1] in exclude or parts[-1].endswith(".a") or "__pycache__" in parts:
        return True
    return any(parts[: len(d)] == d for d in EXCLUDE_DIRS)


def _pack(wheels: list[Path], archive: Path, exclude: set[str] = EXCLUDE_FILES,
          cuda: bool = False) -> tuple[Path, int, int, dict[str, str]]:
    """All wheels' files (minus exclusions) under site/ in one tar.gz, byte-for-byte reproducible.
    `cuda`: a CUDA target's runtime, whose TVM CUDA library must find its libcudart in the bundle."""
    entries: dict[str, tuple[bytes, int]] = {}
    versions = {}
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        versions[name] = version
        with zipfile.ZipFile(wheel) as zf:
            for item in zf.infolist():
                parts = tuple(item.filename.split("/"))
                if item.is_dir() or _excluded(parts, exclude):
                    continue
                mode = (item.external_attr >> 16) & 0o777 or 0o644
                entries["site/" + item.filename] = (zf.read(item), mode | 0o644)
    if cuda:
        _check_cudart(entries)
    tmp = archive.with_suffix(".partial")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            data, mode = entries[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime, info.uname, info.gname = len(data), mode, 0, "", ""
            tar.addfile(info, io.BytesIO(data))
    tmp.replace(archive)
    return archive, len(entries), sum(len(d) for d, _ in entries.values()), versions


def _check_cudart(entries: dict[str, tuple[bytes, int]]) -> None:
    """TVM's CUDA runtime library must find the libcudart soname it was linked against in the bundle."""
    library = next((data for path, (data, _) in entries.items() if path.endswith("/" + CUDA_LIBRARY)), None)
    if library is None:
        raise DeviceError(f"the apache-tvm wheel has no {CUDA_LIBRARY}: this TVM build cannot run CUDA bundles")
    needed = sorted({m.decode() for m in re.findall(rb"libcudart\.so\.\d+(?=\x00)", library)})
    shipped = {path.rsplit("/", 1)[-1] for path in entries}
    missing = [name for name in needed if name not in shipped]
    if missing:
        have = sorted(n for n in shipped if n.startswith("libcudart.so")) or ["none"]
        raise DeviceError(f"TVM's {CUDA_LIBRARY} needs {', '.join(missing)}, and the CUDA runtime wheel "
                          f"({CUDA_RUNTIME}) provides {', '.join(have)}: set CUDA_MAJOR in edgebuild/lab/runtime.py "
                          f"to the major version {CUDA_LIBRARY} names")


def remove_cache(project: Project) -> None:
    shutil.rmtree(project.cache_dir / "runtime", ignore_errors=True)
