"""Compiling CUDA kernels on a build machine that has nvcc but no GPU driver.

TVM turns CUDA source into a device binary only when its CUDA runtime library is loaded, and that
library links against the driver's libcuda.so.1. Without a driver (any CI box, most build hosts)
TVM silently keeps the kernels as *source*, which a Jetson could not load without a compiler. So
where no libcuda exists we load a stub that defines the driver symbols the runtime library links
against (each returning CUDA_ERROR_NO_DEVICE); it is built here with zig, never shipped, and
never called during compilation.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from ..errors import CompileError, ToolchainError

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


def enable_codegen(cache_dir: Path) -> None:
    """Make TVM compile CUDA kernels to binaries in this process (idempotent)."""
    import tvm

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
