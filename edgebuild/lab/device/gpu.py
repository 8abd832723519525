# Which TVM device runs a bundle, and what CUDA it has: sent ahead of agent.py (needs tvm imported
# by then). A CUDA bundle (manifest target.tvm.kind == "cuda") runs on tvm.cuda(0). Before TVM loads
# model.so, its CUDA runtime library (libtvm_runtime_cuda.so, left unloaded by a runtime-only
# `import tvm`) is loaded, after what it links against: the driver's libcuda.so.1 and the libcudart
# that provisioning shipped beside TVM (site/nvidia/cuNN/lib). Without a driver or GPU, or with a
# driver older than the shipped CUDA runtime or the nvcc that built the kernels, the agent stops with a
# message naming the versions and the fix, instead of a crash inside the runtime.
# "GPU memory" is what cudaMemGetInfo reports in use on device 0 (lab/jetson.py defines the figures);
# on a Jetson that is unified memory, shared with the CPU, so tegrastats' RAM delta goes beside it.
import ctypes
import glob
import os

CUDART = []  # the loaded libcudart, for gpu_memory_used


def pick_device(tvm, manifest, site):
    """(device, target kind, CUDA versions or None) for the bundle's manifest."""
    kind = ((manifest.get("target") or {}).get("tvm") or {}).get("kind", "llvm")
    if kind != "cuda":
        return tvm.cpu(), kind, None
    versions = load_cuda(tvm, site, (manifest.get("toolchain") or {}).get("cuda_toolkit"))
    device = tvm.cuda(0)
    if not device.exist:
        driver = " (CUDA %s)" % versions["driver"] if versions["driver"] else ""
        raise SystemExit("this bundle is for a CUDA GPU, and no CUDA device is visible: the NVIDIA driver%s sees no "
                         "GPU; run it on a device with one, or build for a CPU target" % driver)
    return device, kind, versions


def load_cuda(tvm, site, toolkit):
    try:
        driver = ctypes.CDLL("libcuda.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        raise SystemExit("this bundle is for a CUDA GPU, and no CUDA device is visible: no NVIDIA driver "
                         "(libcuda.so.1 cannot be loaded: %s); run it on a device with an NVIDIA GPU and its driver, "
                         "or build for a CPU target" % exc)
    shipped = sorted(glob.glob(os.path.join(site, "nvidia", "cu*", "lib", "libcudart.so.*")))
    if not shipped:
        raise SystemExit("the device's TVM runtime has no CUDA runtime library (libcudart): provision it again "
                         "(invoke lab.provision) so that it ships the one TVM's CUDA runtime needs")
    cudart = ctypes.CDLL(shipped[-1], mode=ctypes.RTLD_GLOBAL)
    versions = {"toolkit": toolkit, "runtime": dotted(_version(cudart, "cudaRuntimeGetVersion")),
                "driver": dotted(_version(driver, "cuDriverGetVersion"))}
    problem = cuda_problem(**versions)
    if problem:
        raise SystemExit(problem)
    library = os.path.join(os.path.dirname(tvm.__file__), "lib", "libtvm_runtime_cuda.so")
    try:
        ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)  # registers TVM's CUDA device and module loader
    except OSError as exc:
        raise SystemExit("TVM's CUDA runtime (%s) cannot be loaded on this device: %s" % (library, exc))
    CUDART[:] = [cudart]
    return versions


def _version(lib, name):
    value = ctypes.c_int()
    try:
        return value.value if getattr(lib, name)(ctypes.byref(value)) == 0 else None
    except AttributeError:  # not a real CUDA library
        return None


def dotted(version):
    """CUDA's integer versions (12060) as "12.6"."""
    return None if version is None else "%d.%d" % (version // 1000, version % 1000 // 10)


def cuda_problem(toolkit, runtime, driver):
    """Why this device's driver cannot run the bundle, or None. The driver must support the CUDA major
    version of the shipped runtime library and of the nvcc that built the kernels (CUDA's minor-version
    compatibility covers newer minors of the same major)."""
    if driver is None:
        return None  # an unreadable version is recorded as null; loading the kernels still checks
    major = int(driver.split(".")[0])
    problems = []
    if runtime and int(runtime.split(".")[0]) > major:
        problems.append("the shipped CUDA runtime (libcudart %s) needs an NVIDIA driver for CUDA %s.0 or newer"
                        % (runtime, runtime.split(".")[0]))
    if toolkit and int(toolkit.split(".")[0]) > major:
        problems.append("the bundle's kernels were compiled by nvcc %s (CUDA %s)" % (toolkit, toolkit.split(".")[0]))
    if not problems:
        return None
    need = max(int(v.split(".")[0]) for v in (runtime, toolkit) if v)
    return ("this device's NVIDIA driver supports CUDA %s, and %s. Fix: install a driver for CUDA %d (R580 or newer "
            "for CUDA 13 on a PC; on a Jetson, JetPack 7, or NVIDIA's CUDA %d compatibility package for Orin on "
            "JetPack 6), or run a TVM runtime built from source against CUDA %s and build the bundle with that CUDA's "
            "nvcc (CUDA_PATH)" % (driver, "; ".join(problems), need, need, driver))


def gpu_memory_used():
    """Bytes in use on CUDA device 0 (cudaMemGetInfo), or None before load_cuda or on failure."""
    if not CUDART:
        return None
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    if CUDART[0].cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)) == 0:
        return total.value - free.value
    return None
