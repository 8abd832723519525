"""Export keeps the model's interface: an input no node uses stays a graph input after simplification."""

import onnx
from onnx import TensorProto, helper

from edgebuild import export
from edgebuild.models.base import TensorSpec


def test_an_unused_input_survives_simplification(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                               helper.make_tensor_value_info("like", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    specs = [TensorSpec("x", (2,), "float32"), TensorSpec("like", (2,), "float32")]
    export.to_onnx(model, specs, None, tmp_path / "m.onnx")
    assert [v.name for v in onnx.load(str(tmp_path / "m.onnx")).graph.input] == ["x", "like"]


def test_a_simplifier_failure_builds_the_graph_unsimplified_and_says_so(tmp_path):
    # onnxslim 0.1.98 fails on ONNX's own Not test case (opset 1): its optimizer returns no model
    graph = helper.make_graph([helper.make_node("Not", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.BOOL, ["n", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.BOOL, ["n", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 1)])
    note = export.to_onnx(model, [TensorSpec("x", (3, 4), "bool")], None, tmp_path / "m.onnx")
    assert note and "onnxslim" in note and "unsimplified" in note
    written = onnx.load(str(tmp_path / "m.onnx")).graph
    assert [d.dim_value for d in written.output[0].type.tensor_type.shape.dim] == [3, 4]  # shapes inferred


def test_a_graph_the_simplifier_takes_gives_no_note(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert export.to_onnx(model, [TensorSpec("x", (2,), "float32")], None, tmp_path / "m.onnx") is None
