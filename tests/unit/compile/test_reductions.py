"""Reductions over an empty axis become their identity, and bool max/min run on uint8 (reductions.py)."""

import numpy as np
import pytest

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node

EMPTY = np.zeros((2, 0, 3), np.float32)
OPS = ["ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare",
       "ReduceLogSum", "ReduceLogSumExp"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axes, keepdims", [([1], 1), ([1], 0), ([0, -2], 1), (None, 0)])
def test_a_reduction_over_an_empty_axis_is_its_identity(op, axes, keepdims):
    constants = {"axes": np.array(axes, np.int64)} if axes is not None else {}
    model = one_node(op, {"x": EMPTY}, ["y"], constants, keepdims=keepdims)
    rewritten = assert_lowered_matches(model, {"x": EMPTY})
    assert [n.op_type for n in rewritten.graph.node] == ["Identity"]


def test_integer_max_over_an_empty_axis_is_the_types_lowest():
    x = np.zeros((0, 4), np.int32)
    assert_lowered_matches(one_node("ReduceMax", {"x": x}, ["y"], {"axes": np.array([0], np.int64)}), {"x": x})


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_bool_max_and_min_match_onnxruntime(op, keepdims):
    x = np.random.default_rng(3).random((3, 4, 5)) > 0.7
    model = one_node(op, {"x": x}, ["y"], {"axes": np.array([1], np.int64)}, opset=20, keepdims=keepdims)
    assert_lowered_matches(model, {"x": x})


def test_other_reductions_stay_themselves():
    x = np.ones((2, 3), np.float32)
    model = one_node("ReduceMax", {"x": x}, ["y"], {"axes": np.array([1], np.int64)})
    assert lowered(model) is model
