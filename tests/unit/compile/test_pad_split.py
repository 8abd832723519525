"""Pad with a computed constant value and Split with empty parts (pad_split.py) give ONNX Runtime's outputs."""

import numpy as np
import pytest

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node

X = np.random.default_rng(6).standard_normal((2, 3, 4)).astype(np.float32)
VALUE = np.array(2.5, np.float32)


@pytest.mark.parametrize("pads, axes", [([1, 0, 2, 0, 3, 1], None), ([2, -1, 0, 3], [0, -1]), ([-1, 1], [1])])
def test_pad_with_a_graph_input_as_value_matches_onnxruntime(pads, axes):
    constants = {"pads": np.array(pads, np.int64), **({"axes": np.array(axes, np.int64)} if axes else {})}
    order = ["x", "pads", "value", *(["axes"] if axes else [])]
    model = one_node("Pad", {"x": X, "value": VALUE}, ["y"], constants, order=order, opset=19)
    assert_lowered_matches(model, {"x": X, "value": VALUE})


def test_pad_with_a_constant_value_stays_itself():
    model = one_node("Pad", {"x": X}, ["y"], {"pads": np.ones(6, np.int64), "value": VALUE}, opset=19)
    assert lowered(model) is model


@pytest.mark.parametrize("x, sizes", [(np.zeros(0, np.float32), [0, 0, 0]),
                                      (np.arange(6, dtype=np.float32), [2, 0, 4, 0]),
                                      (np.arange(6, dtype=np.float32), [0, 6])])
def test_split_with_empty_parts_matches_onnxruntime(x, sizes):
    outputs = [f"y{i}" for i in range(len(sizes))]
    assert_lowered_matches(one_node("Split", {"x": x}, outputs, {"split": np.array(sizes, np.int64)}), {"x": x})
