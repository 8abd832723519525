"""MaxPool's Indices output as ArgMax over the kernel taps (pool_indices.py) gives ONNX Runtime's indices."""

import numpy as np
import pytest

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("shape, attrs", [
    ((2, 3, 7, 6), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ((1, 2, 8, 9), dict(kernel_shape=[2, 3], strides=[2, 1], pads=[0, 1, 1, 0], ceil_mode=1)),
    ((1, 2, 9, 9), dict(kernel_shape=[2, 2], dilations=[2, 2])),
    ((1, 2, 5, 7), dict(kernel_shape=[3, 2], storage_order=1)),
    ((2, 2, 11), dict(kernel_shape=[3], strides=[2])),
    ((1, 2, 4, 5, 6), dict(kernel_shape=[2, 2, 3], strides=[1, 2, 2], pads=[1, 0, 1, 0, 1, 1])),
])
def test_maxpool_indices_match_onnxruntime(shape, attrs):
    x = RNG.standard_normal(shape).astype(np.float32)
    assert_lowered_matches(one_node("MaxPool", {"x": x}, ["y", "i"], opset=12, **attrs), {"x": x})


def test_uint8_maxpool_indices_match_onnxruntime():
    x = RNG.integers(0, 255, (1, 2, 6, 6)).astype(np.uint8)
    assert_lowered_matches(one_node("MaxPool", {"x": x}, ["y", "i"], opset=12, kernel_shape=[2, 2], strides=[2, 2],
                                    pads=[1, 1, 0, 0]), {"x": x})


def test_maxpool_without_indices_stays_itself():
    model = one_node("MaxPool", {"x": np.ones((1, 1, 4, 4), np.float32)}, ["y"], opset=12, kernel_shape=[2, 2])
    assert lowered(model) is model
