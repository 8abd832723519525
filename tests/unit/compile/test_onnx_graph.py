"""onnx_graph.rewrite replaces only what a lowering emits, and Emit writes each opset's form of a reduction."""

import numpy as np
import pytest

from edgebuild.compile import onnx_graph
from tests.unit.compile.onnx_nodes import one_node, run

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def _mean_over_rows(node, graph):
    emit = onnx_graph.Emit(node, graph.opset)
    emit.reduce("ReduceMean", node.input[0], [1], keepdims=0, out=node.output[0])
    return emit


@pytest.mark.parametrize("opset", [13, 18])
def test_a_lowering_replaces_its_node_in_the_models_opset(opset):
    """Reduce* axes are an attribute before opset 18 and an input from then on."""
    model = one_node("Relu", {"x": X}, ["y"], opset=opset)
    rewritten = onnx_graph.rewrite(model, {"Relu": _mean_over_rows})
    assert [n.op_type for n in rewritten.graph.node] == ["ReduceMean"]
    np.testing.assert_allclose(run(rewritten, {"x": X})[0], X.mean(axis=1))
    assert [n.op_type for n in model.graph.node] == ["Relu"]  # the given model is not modified


def test_a_model_nothing_lowers_is_returned_as_is():
    model = one_node("Relu", {"x": X}, ["y"])
    assert onnx_graph.rewrite(model, {"Relu": lambda node, graph: None}) is model
    assert onnx_graph.rewrite(model, {"Sigmoid": _mean_over_rows}) is model
