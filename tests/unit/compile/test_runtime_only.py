"""A runtime-only process (TVM_USE_RUNTIME_LIB=1: devices, bench workers) runs models that call TVM's
contrib functions (TopK -> tvm.contrib.sort.topk, registered by libtvm_runtime_extra.so)."""

import subprocess
import sys

import onnx
from onnx import TensorProto, helper

from edgebuild.compile import relax

from ...conftest import ROOT


def topk_model(path):
    graph = helper.make_graph(
        [helper.make_node("TopK", ["x", "k"], ["values", "indices"], axis=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("indices", TensorProto.INT64, [2, 3])],
        [helper.make_tensor("k", TensorProto.INT64, [1], [3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_topk_runs_in_a_runtime_only_process(tmp_path):
    topk_model(tmp_path / "topk.onnx")
    relax.compile_host(relax.import_onnx(tmp_path / "topk.onnx"), tmp_path / "model.so", None)
    script = """
import os, sys
sys.modules["torch"] = None  # as the bench worker: no torch
import numpy as np
import tvm
from edgebuild.compile import runner
vm, weights = runner.load(sys.argv[1])
x = np.array([[5, 1, 4, 2, 6, 3], [0, 9, 8, 7, 1, 2]], dtype=np.float32)
values, indices = (o.numpy() for o in vm["main"](tvm.runtime.tensor(x), *weights))
print(values.tolist(), indices.tolist())
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TVM_USE_RUNTIME_LIB": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "model.so")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"{[[6.0, 5.0, 4.0], [9.0, 8.0, 7.0]]} {[[4, 0, 2], [1, 2, 3]]}"
