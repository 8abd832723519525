"""The ONNX Runtime comparison is a metric: a graph ORT cannot run still gets one, marked unavailable."""

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgebuild.flows import build
from edgebuild.models import onnx_file

X = np.array([-1.0, 1.0], np.float32)


def relu_at(tmp_path, opset: int):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return onnx_file.load(path), path


def test_onnxruntime_comparison_unavailable_records_the_reason(tmp_path):
    model, path = relu_at(tmp_path, 99)  # newer than this ONNX Runtime implements: it refuses the model
    got = build._ort_diff(model, path, {"x": X}, [np.maximum(X, 0)])
    assert got["max_abs_diff_vs_onnxruntime"] is None and "opset" in got["onnxruntime_unavailable"].lower()


def test_onnxruntime_comparison_when_available(tmp_path):
    model, path = relu_at(tmp_path, 17)
    got = build._ort_diff(model, path, {"x": X}, [np.array([0.0, 1.5], np.float32)])
    assert got == {"max_abs_diff_vs_onnxruntime": 0.5}
