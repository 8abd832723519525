# edgebuild's on-device agent: one file, standard library + numpy + the TVM runtime.
# Sent after compile/weights.py (load, beside: the bundle's mapped weights file), parity.py, sense.py,
# serve.py and gpu.py (compare, clocks, tegrastats, vm_hwm, serve, pick_device, gpu_memory_used).
# Runs on the device (stdin to its Python); loads a deployed bundle, checks parity against
# reference.npz, warms up, times the model on the device and prints one JSON line prefixed by
# "EDGEBUILD-RESULT ".  Usage: python - BUNDLE_DIR RUNTIME_SITE RUNS MIN_SECONDS WARMUP [serve]
# With `serve` it times blocks of runs on request instead (serve.py), for a baseline beside it.
import json
import os
import sys
import time

os.environ["TVM_USE_RUNTIME_LIB"] = "1"  # load libtvm_runtime.so only; the compiler is not shipped
# Every core (TVM's own default on x86 is half of them); the thread-pool policy comes from the host.
os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))
bundle, site = sys.argv[1], sys.argv[2]
runs, min_seconds, warmup = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
MAX_RUNS = 100000
sys.path.insert(0, site)
started = time.perf_counter()

import platform  # noqa: E402

import numpy as np  # noqa: E402
import tvm  # noqa: E402
from tvm.runtime.vm import VirtualMachine  # noqa: E402

import_ms = (time.perf_counter() - started) * 1e3


def as_list(out):
    if hasattr(out, "numpy"):
        return [out.numpy()]
    return [o for item in out for o in as_list(item)]


imported_rss = status_bytes("VmRSS")  # noqa: F821 (sense.py)
peak_was_reset = reset_peak()  # noqa: F821 (sense.py)
manifest = json.load(open(os.path.join(bundle, "manifest.json")))
with np.load(os.path.join(bundle, "reference.npz")) as ref:
    cases = reference_cases(ref, manifest)  # noqa: F821 (parity.py)
inputs = cases[0][0]

t0 = time.perf_counter()
library = os.path.join(bundle, "model.so")
# first: a CUDA bundle's model.so can only be loaded once TVM's CUDA runtime is (gpu.py)
device, device_kind, cuda = pick_device(tvm, manifest, site)  # noqa: F821 (gpu.py)
cuda_used_before = gpu_memory_used() if cuda else None  # noqa: F821 (gpu.py): the context, before the model
tegrastats_before = tegrastats() if cuda else None  # noqa: F821 (sense.py)
load_runtime_extras()  # noqa: F821 (compile/weights.py): contrib functions models call (TopK...)
lib = tvm.runtime.load_module(library)
vm = VirtualMachine(lib, device)
main = vm["main"]
weights = load(beside(library))  # noqa: F821 (compile/weights.py)
args = [tvm.runtime.tensor(x, device) for x in inputs] + weights
load_ms = (time.perf_counter() - t0) * 1e3


def run_once():
    main(*args)
    device.sync()  # a GPU runs asynchronously: the clock is read only once it has finished


parity = judge(lambda xs: as_list(main(*[tvm.runtime.tensor(x, device) for x in xs], *weights)),  # noqa: F821
               cases, manifest)
parity_error = parity.pop("parity_error")

for _ in range(warmup):
    run_once()
if sys.argv[6:7] == ["serve"]:
    serve(run_once, {"ok": parity_error is None, "error": parity_error,  # noqa: F821 (serve.py)
                                "machine": platform.machine(), "python": platform.python_version(),
                                "runtime": {"tvm": tvm.__version__, "numpy": np.__version__}, "import_ms": import_ms,
                                "load_ms": load_ms, **parity,
                                "device_kind": device_kind, "cuda": cuda}, imported_rss, peak_was_reset)
clocks_before = clocks()  # noqa: F821 (sense.py)
times = []
t_start = time.perf_counter()
while len(times) < MAX_RUNS and (len(times) < runs or time.perf_counter() - t_start < min_seconds):
    t = time.perf_counter()
    run_once()
    times.append((time.perf_counter() - t) * 1e3)
timed_seconds = time.perf_counter() - t_start
clocks_after = clocks()  # noqa: F821 (sense.py)

ok = parity_error is None
result = {
    "ok": ok,
    "error": parity_error,
    "machine": platform.machine(),
    "python": platform.python_version(),
    "runtime": {"tvm": tvm.__version__, "numpy": np.__version__},
    "times_ms": [round(t, 6) for t in times],  # the host computes the statistics (lab/validity.py)
    "timed_seconds": timed_seconds,
    "warmup_runs": warmup,
    "import_ms": import_ms,
    "load_ms": load_ms,
    "peak_rss_bytes": vm_hwm(),  # noqa: F821 (sense.py)
    "model_rss_bytes": model_rss(imported_rss, peak_was_reset),  # noqa: F821 (sense.py)
    "device_kind": device_kind,
    "cuda": cuda,  # {toolkit, runtime, driver}: CUDA versions (gpu.py)
    "cuda_used_before": cuda_used_before,
    "cuda_used_after": gpu_memory_used() if cuda else None,  # noqa: F821 (gpu.py)
    "tegrastats_before": tegrastats_before,
    "tegrastats_after": tegrastats() if cuda else None,  # noqa: F821 (sense.py)
    **parity,
    "clocks_before": clocks_before,
    "clocks_after": clocks_after,
}
print("EDGEBUILD-RESULT " + json.dumps(result), flush=True)
