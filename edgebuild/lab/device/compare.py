# edgebuild's side-by-side timing: two bundles in one process on one device, alternating blocks.
# Runs on the device (stdin to its Python). Absolute times drift between runs (up to 33% measured
# between runs, ~5% within one), so a release gate compares medians taken in the same process,
# with the order of the two bundles swapped every block. Each bundle's files are checked against
# its manifest.json first. Prints one JSON line prefixed by "EDGEBUILD-COMPARE ".
# Usage: python - SCRATCH RUNTIME_SITE BLOCKS RUNS WARMUP NAME [NAME...]  (bundles in SCRATCH/NAME)
import hashlib
import json
import os
import platform
import sys
import time

os.environ["TVM_USE_RUNTIME_LIB"] = "1"
scratch, site = sys.argv[1], sys.argv[2]
blocks, runs, warmup = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
names = sys.argv[6:]
sys.path.insert(0, site)

import numpy as np  # noqa: E402
import tvm  # noqa: E402
from tvm.runtime.vm import VirtualMachine  # noqa: E402


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def as_list(out):
    if hasattr(out, "numpy"):
        return [out.numpy()]
    return [o for item in out for o in as_list(item)]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_bundle(name):
    folder = os.path.join(scratch, name)
    manifest = json.load(open(os.path.join(folder, "manifest.json")))
    for file in [f for f in ("model.so", "model.weights", "reference.npz") if f in manifest["files"]]:
        if sha256(os.path.join(folder, file)) != manifest["files"][file]["sha256"]:
            raise SystemExit("%s/%s does not match its manifest's sha256" % (name, file))
    with np.load(os.path.join(folder, "reference.npz")) as ref:
        cases = reference_cases(ref, manifest)  # noqa: F821 (parity.py)
    before, t0 = rss(), time.perf_counter()
    library = os.path.join(folder, "model.so")
    # a CUDA bundle runs on the GPU once TVM's CUDA runtime is loaded (gpu.py), CPU bundles on the CPU
    device = pick_device(tvm, manifest, site)[0]  # noqa: F821 (gpu.py)
    load_runtime_extras()  # noqa: F821 (compile/weights.py)
    vm = VirtualMachine(tvm.runtime.load_module(library), device)
    main = vm["main"]
    # then main's constants, mapped from model.weights (load and beside come from compile/weights.py)
    weights = load(beside(library))  # noqa: F821
    args = [tvm.runtime.tensor(x, device) for x in cases[0][0]] + weights

    def run():
        out = main(*args)
        device.sync()  # a GPU runs asynchronously: the clock is read only once it has finished
        return out

    run()
    load_ms = (time.perf_counter() - t0) * 1e3
    parity = judge(lambda xs: as_list(main(*[tvm.runtime.tensor(x, device) for x in xs], *weights)),  # noqa: F821
                   cases, manifest)
    for _ in range(warmup):
        run()
    return {"run": run, "load_ms": load_ms, "memory_bytes": rss() - before, **parity, "times": [],
            "block_medians": []}


bundles = {name: load_bundle(name) for name in names}
for block in range(blocks):
    order = names if block % 2 == 0 else names[::-1]
    for name in order:
        b, times = bundles[name], []
        for _ in range(runs):
            t = time.perf_counter()
            b["run"]()
            times.append((time.perf_counter() - t) * 1e3)
        b["times"].extend(times)
        b["block_medians"].append(float(np.median(times)))

out = {}
for name, b in bundles.items():
    ms = np.array(b["times"])
    out[name] = {
        "ok": b["parity_error"] is None, "parity_error": b["parity_error"],
        "latency_ms": {"p50": float(np.median(ms)), "p90": float(np.percentile(ms, 90)),
                       "mean": float(ms.mean()), "min": float(ms.min()), "max": float(ms.max()), "runs": len(ms)},
        "block_medians_ms": b["block_medians"], "load_ms": b["load_ms"], "memory_bytes": b["memory_bytes"],
        **{k: b[k] for k in ("parity_max_abs_diff", "parity_tolerance", "parity_inputs", "parity_inputs_within")}}
print("EDGEBUILD-COMPARE " + json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                                         "runtime": {"tvm": tvm.__version__}, "bundles": out}), flush=True)
