# Which TVM device runs a bundle, and what its GPU holds: sent ahead of agent.py (needs tvm imported
# by then). A CUDA bundle (manifest target.tvm.kind == "cuda") runs on tvm.cuda(0); without a usable
# CUDA driver and GPU the agent stops with a clear message instead of a crash inside the runtime.
# "GPU memory" is the bytes the CUDA driver reports in use on the device (total - free, via
# cudaMemGetInfo through libcudart when it loads); on a Jetson that is unified memory, shared with
# the CPU, so it is reported beside the process's peak RSS, not instead of it.
import ctypes


def pick_device(tvm, manifest):
    kind = ((manifest.get("target") or {}).get("tvm") or {}).get("kind", "llvm")
    if kind != "cuda":
        return tvm.cpu(), kind
    try:
        device = tvm.cuda(0)
        present = device.exist
    except Exception as exc:  # the CUDA runtime library or the driver failed to load
        raise SystemExit("this bundle is for a CUDA GPU, and the device's TVM runtime cannot use CUDA here (%s): "
                         "install the NVIDIA driver (libcuda.so.1) and provision the CUDA runtime" % exc)
    if not present:
        raise SystemExit("this bundle is for a CUDA GPU, and no CUDA device is visible: no NVIDIA driver "
                         "(libcuda.so.1) or no GPU on this device; run it on a device with one, or build for a "
                         "CPU target")
    return device, kind


def gpu_memory_used():
    """Bytes in use on CUDA device 0 (cudaMemGetInfo), or None when libcudart cannot be loaded."""
    for name in ("libcudart.so", "libcudart.so.13", "libcudart.so.12"):
        try:
            cudart = ctypes.CDLL(name)
        except OSError:
            continue
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        if cudart.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)) == 0:
            return total.value - free.value
    return None
