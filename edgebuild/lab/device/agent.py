# edgebuild's on-device agent: one file, standard library + numpy + the TVM runtime.
# Runs on the device (stdin to its Python), sent after compile/weights.py (load, beside: the bundle's
# mapped weights file); loads a deployed bundle, checks parity against
# reference.npz, warms up, times the model on the device and prints one JSON line prefixed by
# "EDGEBUILD-RESULT ".  Usage: python - BUNDLE_DIR RUNTIME_SITE RUNS MIN_SECONDS WARMUP
import json
import os
import shutil
import subprocess
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


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def command(argv):
    if not shutil.which(argv[0]):
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def clocks():
    cpu = "/sys/devices/system/cpu/cpu0/cpufreq/"
    state = {"governor": read(cpu + "scaling_governor"), "freq_khz": read(cpu + "scaling_cur_freq"),
             "max_freq_khz": read(cpu + "scaling_max_freq"),
             "throttled": command(["vcgencmd", "get_throttled"]),  # Raspberry Pi firmware flags
             "jetson_power_mode": command(["nvpmodel", "-q"])}
    return {k: v for k, v in state.items() if v is not None}


def status_bytes(field):  # VmRSS: resident now; VmHWM: peak resident
    for line in (read("/proc/self/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def reset_peak():
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0): the model's memory excludes the imports.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def as_list(out):
    if hasattr(out, "numpy"):
        return [out.numpy()]
    return [o for item in out for o in as_list(item)]


baseline_rss = status_bytes("VmRSS")
peak_was_reset = reset_peak()
manifest = json.load(open(os.path.join(bundle, "manifest.json")))
with np.load(os.path.join(bundle, "reference.npz")) as ref:
    inputs = [ref["input/" + spec["name"]] for spec in manifest["inputs"]]
    expected = [ref["output/" + spec["name"]] for spec in manifest["outputs"]]

t0 = time.perf_counter()
library = os.path.join(bundle, "model.so")
lib = tvm.runtime.load_module(library)
device = tvm.cpu()
vm = VirtualMachine(lib, device)
main = vm["main"]
args = [tvm.runtime.tensor(x, device) for x in inputs] + load(beside(library))
load_ms = (time.perf_counter() - t0) * 1e3

got = as_list(main(*args))
diff = max(float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
           for g, e in zip(got, expected))
scale = max(1.0, max(float(np.max(np.abs(e))) if e.size else 0.0 for e in expected))
tolerance = float(manifest.get("parity_tolerance", 1e-3 * scale))
shapes_ok = [list(g.shape) for g in got] == [list(e.shape) for e in expected]

for _ in range(warmup):
    main(*args)
times = []
t_start = time.perf_counter()
while len(times) < MAX_RUNS and (len(times) < runs or time.perf_counter() - t_start < min_seconds):
    t = time.perf_counter()
    main(*args)
    times.append((time.perf_counter() - t) * 1e3)
ms = np.array(times)

ok = bool(shapes_ok and diff <= tolerance)
result = {
    "ok": ok,
    "error": None if ok else ("output shapes differ from reference.npz" if not shapes_ok else
                              "parity %.3g exceeds the bundle's tolerance %.3g" % (diff, tolerance)),
    "machine": platform.machine(),
    "python": platform.python_version(),
    "runtime": {"tvm": tvm.__version__, "numpy": np.__version__},
    "latency_ms": {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
                   "p99": float(np.percentile(ms, 99)), "mean": float(ms.mean()), "min": float(ms.min()),
                   "max": float(ms.max()), "runs": len(times)},
    "warmup_runs": warmup,
    "import_ms": import_ms,
    "load_ms": load_ms,
    "peak_rss_bytes": status_bytes("VmHWM"),
    # the model's own memory: peak resident set above the one after importing the runtime
    "model_rss_bytes": status_bytes("VmHWM") - baseline_rss if peak_was_reset and baseline_rss else None,
    "parity_max_abs_diff": diff,
    "parity_tolerance": tolerance,
    "clocks": clocks(),
}
print("EDGEBUILD-RESULT " + json.dumps(result), flush=True)
