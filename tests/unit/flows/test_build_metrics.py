"""The ONNX Runtime comparison is a metric: a graph ORT cannot run still gets one, marked unavailable; a
quantized graph beyond its tolerance warns."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

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
    got = build._ort_diff(model, path, [({"x": X}, [np.maximum(X, 0)])], print)
    assert got["max_abs_diff_vs_onnxruntime"] is None and "opset" in got["onnxruntime_unavailable"].lower()


def test_onnxruntime_comparison_when_available(tmp_path):
    model, path = relu_at(tmp_path, 17)
    got = build._ort_diff(model, path, [({"x": X}, [np.array([0.0, 1.5], np.float32)])], print)
    assert got == {"max_abs_diff_vs_onnxruntime": 0.5}


def test_a_quantized_graph_beyond_one_output_step_warns(tmp_path):
    inits = [numpy_helper.from_array(np.float32(0.1), "s"), numpy_helper.from_array(np.int8(0), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], inits)
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    said = []
    within = build._ort_diff(onnx_file.load(path), path, [({"x": X}, [np.array([-1.0, 1.05], np.float32)])], said.append)
    assert within["onnxruntime_parity_tolerance"] > 0.1 and not said  # half a step off: within
    beyond = build._ort_diff(onnx_file.load(path), path, [({"x": X}, [np.array([-1.0, 1.2], np.float32)])], said.append)
    assert beyond["max_abs_diff_vs_onnxruntime"] > 0.19 and "on 0 of 1 inputs" in said[0]
    assert beyond["onnxruntime_parity_inputs"] == 1 and beyond["onnxruntime_parity_inputs_within"] == 0
