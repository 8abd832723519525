# edgebuild's on-device agent: one file, standard library + numpy + the TVM runtime.
# Sent after parity.py (its compare()). Runs on the device (stdin to its Python); loads a deployed bundle, checks parity against
# reference.npz, warms up, times the model on the device and prints one JSON line prefixed by
# "EDGEBUILD-RESULT ".  Usage: python - BUNDLE_DIR RUNTIME_SITE RUNS MIN_SECONDS WARMUP
import json
import os
import shutil
import subprocess
import sys
import time

os.environ["TVM_USE_RUNTIME_LIB"] = "1"  # load libtvm_runtime.so only; the compiler is not shipped
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


def vm_hwm():
    for line in (read("/proc/self/status") or "").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def as_list(out):
    if hasattr(out, "numpy"):
        return [out.numpy()]
    return [o for item in out for o in as_list(item)]


manifest = json.load(open(os.path.join(bundle, "manifest.json")))
with np.load(os.path.join(bundle, "reference.npz")) as ref:
    inputs = [ref["input/" + spec["name"]] for spec in manifest["inputs"]]
    expected = [ref["output/" + spec["name"]] for spec in manifest["outputs"]]

t0 = time.perf_counter()
lib = tvm.runtime.load_module(os.path.join(bundle, "model.so"))
device = tvm.cpu()
vm = VirtualMachine(lib, device)
main = vm["main"]
args = [tvm.runtime.tensor(x, device) for x in inputs]
load_ms = (time.perf_counter() - t0) * 1e3

got = as_list(main(*args))
diff, tolerance, parity_error = compare(got, expected, manifest.get("parity_tolerance"))  # noqa: F821 (parity.py)

clocks_before = clocks()
for _ in range(warmup):
    main(*args)
times = []
t_start = time.perf_counter()
while len(times) < MAX_RUNS and (len(times) < runs or time.perf_counter() - t_start < min_seconds):
    t = time.perf_counter()
    main(*args)
    times.append((time.perf_counter() - t) * 1e3)
timed_seconds = time.perf_counter() - t_start
clocks_after = clocks()

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
    "peak_rss_bytes": vm_hwm(),
    "parity_max_abs_diff": diff if diff == diff and abs(diff) != float("inf") else None,
    "parity_tolerance": tolerance,
    "clocks_before": clocks_before,
    "clocks_after": clocks_after,
}
print("EDGEBUILD-RESULT " + json.dumps(result), flush=True)
