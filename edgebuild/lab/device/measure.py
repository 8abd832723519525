# edgebuild's on-device MetaSchedule measurer: standard library + numpy + the TVM runtime.
# Runs on the device (stdin to its Python). Reads SCRATCH/batch.json, which lists candidate
# kernels (cross-compiled .so files already uploaded to SCRATCH) with their argument shapes and
# dtypes, times each with time_evaluator and prints one line per candidate, as soon as it is
# measured: "EDGEBUILD-CANDIDATE " + {"index", "run_secs"} or {"index", "error"}.  Printing as we
# go lets the host keep what was measured when a candidate kills this process (SIGILL, SIGSEGV).
# Usage: python - SCRATCH RUNTIME_SITE
import json
import os
import sys

os.environ["TVM_USE_RUNTIME_LIB"] = "1"  # load libtvm_runtime.so only; the compiler is not shipped
scratch, site = sys.argv[1], sys.argv[2]
sys.path.insert(0, site)

import numpy as np  # noqa: E402
import tvm  # noqa: E402

MARKER = "EDGEBUILD-CANDIDATE "

with open(os.path.join(scratch, "batch.json")) as f:
    batch = json.load(f)
config = batch["evaluator"]
device = tvm.cpu()
rng = np.random.default_rng(0)


def tensor(kind, dtype, shape):
    if kind != "TENSOR":
        raise ValueError("unsupported argument kind %r" % (kind,))
    if dtype == "bool":
        data = rng.integers(0, 2, size=shape).astype(bool)
    elif dtype.startswith(("int", "uint")):
        data = rng.integers(0, 8, size=shape).astype(dtype)  # small: valid as indices and int8 values
    else:
        data = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
    return tvm.runtime.tensor(data, device)


def measure(item):
    lib = tvm.runtime.load_module(os.path.join(scratch, item["file"]))
    args = [tensor(*arg) for arg in item["args"]]
    timer = lib.time_evaluator(lib.entry_name, device, number=config["number"], repeat=config["repeat"],
                               min_repeat_ms=config["min_repeat_ms"])
    device.sync()
    return [float(cost) for cost in timer(*args).results]


for item in batch["candidates"]:
    try:
        out = {"index": item["index"], "run_secs": measure(item)}
    except Exception as exc:  # one bad candidate must not cost the others their measurement
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        out = {"index": item["index"], "error": "%s: %s" % (type(exc).__name__, lines[-1] if lines else "")}
    print(MARKER + json.dumps(out), flush=True)
