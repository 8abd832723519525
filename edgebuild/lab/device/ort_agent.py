# The baseline engine on the device: ONNX Runtime's own wheel running the bundle's model.onnx.
# Sent after parity.py, sense.py and serve.py; started by pair.py. Usage:
#   python -c SOURCE BUNDLE_DIR ORT_SITE NUMPY_SITE THREADS WARMUP
import json
import os
import platform
import sys
import time

bundle, ort_site, numpy_site, threads, warmup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sys.path[:0] = [ort_site, numpy_site]  # numpy: the same copy the TVM runtime ships
started = time.perf_counter()
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import_ms = (time.perf_counter() - started) * 1e3
imported_rss = status_bytes("VmRSS")  # noqa: F821 (sense.py)
peak_was_reset = reset_peak()  # noqa: F821 (sense.py)
manifest = json.load(open(os.path.join(bundle, "manifest.json")))
names = [spec["name"] for spec in manifest["inputs"]]
with np.load(os.path.join(bundle, "reference.npz")) as ref:
    cases = reference_cases(ref, manifest)  # noqa: F821 (parity.py)
feed = dict(zip(names, cases[0][0]))
options = ort.SessionOptions()
options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle between blocks means idle
t0 = time.perf_counter()
session = ort.InferenceSession(os.path.join(bundle, "model.onnx"), options, providers=["CPUExecutionProvider"])
load_ms = (time.perf_counter() - t0) * 1e3
parity = judge(lambda xs: session.run(None, dict(zip(names, xs))), cases, manifest)  # noqa: F821 (parity.py)
error = parity.pop("parity_error")
for _ in range(warmup):
    session.run(None, feed)
serve(lambda: session.run(None, feed), {"ok": error is None, "error": error, "version": ort.__version__,  # noqa: F821
                                        "machine": platform.machine(), "import_ms": import_ms, "load_ms": load_ms,
                                        **parity}, imported_rss, peak_was_reset)
