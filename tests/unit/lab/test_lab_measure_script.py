"""device/measure.py run here with this machine's Python and TVM runtime, on a kernel built here."""

import json
import subprocess
import sys

from edgebuild.lab.device import source
from edgebuild.lab.measure_protocol import Evaluator, batch_json, parse


def build_kernel(path):
    import tvm
    from tvm import te

    from edgebuild.compile import relax, toolchain

    a = te.placeholder((64,), name="A")
    b = te.compute((64,), lambda i: a[i] * 2.0, name="B")
    lib = tvm.compile(tvm.IRModule({"main": te.create_prim_func([a, b])}), target=relax.host_target())
    lib.export_library(str(path), fcompile=toolchain.zig_linker(toolchain.host_zig_target()))


def test_each_candidate_is_timed_or_reported_and_a_bad_one_spares_the_others(tmp_path):
    build_kernel(tmp_path / "c0.so")
    (tmp_path / "c1.so").write_bytes(b"not a shared library")
    args = [["TENSOR", "float32", [64]], ["TENSOR", "float32", [64]]]
    (tmp_path / "batch.json").write_text(batch_json([(0, "c0.so", args), (1, "c1.so", args)],
                                                    Evaluator(number=2, repeat=2, min_repeat_ms=1)))
    site = next(p for p in sys.path if p.endswith("site-packages"))
    done = subprocess.run([sys.executable, "-", str(tmp_path), site], input=source("measure.py"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = parse(done.stdout, {0, 1})
    assert got[0].ok and len(got[0].run_secs) == 2, got  # repeat=2: two costs
    assert not got[1].ok and got[1].error.startswith("on the device: "), got
