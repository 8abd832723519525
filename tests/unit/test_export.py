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
