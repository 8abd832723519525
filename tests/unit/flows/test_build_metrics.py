"""The ONNX Runtime comparison is a metric: a graph ORT cannot run still gets one, marked unavailable."""

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgebuild.flows import build
from edgebuild.models import onnx_file


def test_onnxruntime_comparison_unavailable_records_the_reason(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "m.onnx"
    # an opset newer than this ONNX Runtime implements: ORT refuses to load the model
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)]), str(path))
    model = onnx_file.load(path)
    x = np.array([-1.0, 1.0], np.float32)
    got = build._ort_diff(model, path, {"x": x}, [np.maximum(x, 0)])
    assert got["max_abs_diff_vs_onnxruntime"] is None and "opset" in got["onnxruntime_unavailable"].lower()


def test_onnxruntime_comparison_when_available(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    x = np.array([-1.0, 1.0], np.float32)
    got = build._ort_diff(onnx_file.load(path), path, {"x": x}, [np.array([0.0, 1.5], np.float32)])
    assert got == {"max_abs_diff_vs_onnxruntime": 0.5}
