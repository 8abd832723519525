"""Compiling CUDA kernels on a build machine that has nvcc but no GPU driver.

TVM turns CUDA source into a device binary only when its CUDA runtime library is loaded, and that
library links against the driver's libcuda.so.1. Without a driver (any CI box, most build hosts)
TVM silently keeps the kernels as *source*, which a Jetson could not load without a compiler. So
where no libcuda exists we load a stub that defines the driver symbols the runtime library links
against (each returning CUDA_ERROR_NO_DEVICE); it is built here with zig, never shipped, and
never called during compilation.

Kernels are compiled by nvcc into a fat binary holding the target arch's SASS *and* its PTX
(-gencode arch=compute_XX,code=[sm_XX,compute_XX]; TVM's own callback keeps only the SASS), so a
newer GPU than the target's can still run the bundle: its driver compiles the PTX at load time.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from ..errors import CompileError, ToolchainError
from . import fatbin

STUB_SOURCE = r"""
/* build-host stand-in for libcuda.so.1: compile-only machines have no GPU driver */
static const char *msg = "CUDA_ERROR_NO_DEVICE (edgebuild build-host stub)";
#define NO_DEVICE(f) int f(void) { return 100; }
NO_DEVICE(cuDeviceGetName) NO_DEVICE(cuFuncSetAttribute) NO_DEVICE(cuLaunchKernelEx)
NO_DEVICE(cuModuleGetFunction) NO_DEVICE(cuModuleLoadData) NO_DEVICE(cuModuleUnload)
NO_DEVICE(cuTensorMapEncodeTiled)
int cuGetErrorName(int e, const char **s) { *s = msg; return 0; }
int cuGetErrorString(int e, const char **s) { *s = msg; return 0; }
"""

CREATE_BINARY = "ffi.Module.create.cuda"
COMPILE_CALLBACK = "tvm_callback_cuda_compile"


def gencode(arch: str) -> list[str]:
    """nvcc flags for SASS of `arch` ("sm_87") plus its PTX, for GPUs newer than `arch`."""
    number = arch.removeprefix("sm_")
    return ["-gencode", f"arch=compute_{number},code=[sm_{number},compute_{number}]"]


def _compile_with_ptx(code, *_):
    """TVM's CUDA compile callback: nvcc's fat binary with SASS and PTX of the current target's arch."""
    import tvm
    from tvm.support import nvcc

    target = tvm.target.Target.current(allow_none=True)
    arch = getattr(target, "arch", None)
    if not (isinstance(arch, str) and arch.startswith("sm_")):
        raise CompileError(f"a CUDA target needs an arch such as \"sm_87\" in its [tvm] table, got {arch!r}")
    return nvcc.compile_cuda(code, target_format="fatbin", arch=gencode(arch), compiler="nvcc")


def enable_codegen(cache_dir: Path) -> None:
    """Make TVM compile CUDA kernels to binaries (SASS and PTX) in this process (idempotent)."""
    import tvm
    import tvm_ffi

    tvm_ffi.register_global_func(COMPILE_CALLBACK, _compile_with_ptx, override=True)
    if tvm.get_global_func(CREATE_BINARY, allow_missing=True) is not None:
        return
    try:
        ctypes.CDLL("libcuda.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        ctypes.CDLL(str(_stub(cache_dir)), mode=ctypes.RTLD_GLOBAL)
    runtime = Path(tvm.__file__).parent / "lib" / "libtvm_runtime_cuda.so"
    try:
        ctypes.CDLL(str(runtime), mode=ctypes.RTLD_LOCAL)  # registers the CUDA module functions
    except OSError as exc:
        raise ToolchainError(
            f"TVM's CUDA runtime ({runtime.name}) cannot be loaded: {exc}. It needs the CUDA runtime "
            "library of the toolkit (libcudart) on the loader path: install the CUDA toolkit and add "
            "its lib folder to LD_LIBRARY_PATH"
        ) from None
    if tvm.get_global_func(CREATE_BINARY, allow_missing=True) is None:
        raise ToolchainError(f"this apache-tvm build cannot create CUDA binaries ({CREATE_BINARY} is missing)")


def _stub(cache_dir: Path) -> Path:
    path = cache_dir / "cuda-stub" / "libcuda.so.1"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        source = path.parent / "stub.c"
        source.write_text(STUB_SOURCE)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        done = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-shared", "-fPIC",
                               "-Wl,-soname,libcuda.so.1", "-o", str(tmp), str(source)], capture_output=True, text=True)
        if done.returncode != 0:
            raise ToolchainError(f"building the build-host libcuda stub failed:\n{done.stderr.strip()}")
        os.replace(tmp, path)
    return path


def check_binary(executable) -> None:
    """Fail if any CUDA module in `executable` holds source instead of a device binary."""
    pending = list(executable.mod.imports)
    while pending:
        module = pending.pop()
        pending.extend(module.imports)
        if module.kind == "cuda" and not module.is_runnable():
            raise CompileError("TVM kept the CUDA kernels as source, not a device binary (no CUDA codegen loaded)")


def check_embedded(library: Path, arch: str) -> list[fatbin.Entry]:
    """Fail unless `library` embeds both SASS and PTX for `arch` ("sm_87"); returns its fat binary entries."""
    found = fatbin.entries(library.read_bytes())
    number = int(arch.removeprefix("sm_"))
    missing = [kind for kind in ("sass", "ptx") if fatbin.Entry(kind, number) not in found]
    if missing:
        have = ", ".join(f"{e.kind} {e.arch}" for e in found) or "no fat binary"
        raise CompileError(f"{library.name} lacks the {' and '.join(missing)} of {arch} (it holds: {have}): "
                           "newer GPUs need the PTX, the target's GPU the SASS")
    return found
