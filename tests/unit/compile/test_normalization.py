"""LayerNormalization's Mean/InvStdDev and BatchNormalization's training mode (normalization.py), lowered
before import, give ONNX Runtime's outputs; the plain forms stay the operator TVM converts itself."""

import numpy as np
import pytest

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node

RNG = np.random.default_rng(2)
X = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
@pytest.mark.parametrize("outputs", [["y", "mean", "inv"], ["y", "", "inv"], ["y", "mean"]])
def test_layernorm_statistics_outputs_match_onnxruntime(axis, outputs):
    shape = X.shape[axis % 4:]
    model = one_node("LayerNormalization", {"x": X}, outputs, {"s": RNG.standard_normal(shape).astype(np.float32),
                     "b": RNG.standard_normal(shape).astype(np.float32)}, opset=17, axis=axis, epsilon=1e-3)
    assert_lowered_matches(model, {"x": X})


def test_layernorm_with_one_output_stays_itself():
    model = one_node("LayerNormalization", {"x": X}, ["y"], {"s": np.ones(5, np.float32)}, opset=17)
    assert lowered(model) is model


@pytest.mark.parametrize("x", [X, X[:, :, :, 0], X[0]], ids=["4d", "3d", "3d batch 3"])
def test_batchnorm_training_mode_matches_onnxruntime(x):
    c = x.shape[1]
    stats = {k: RNG.uniform(0.5, 1.5, c).astype(np.float32) for k in ("s", "b", "m", "v")}
    model = one_node("BatchNormalization", {"x": x}, ["y", "running_mean", "running_var"], stats, opset=15,
                     training_mode=1, momentum=0.8, epsilon=1e-2)
    rewritten = assert_lowered_matches(model, {"x": x})
    assert "training_mode" not in {a.name for n in rewritten.graph.node for a in n.attribute}


def test_batchnorm_inference_stays_itself():
    stats = {k: np.ones(3, np.float32) for k in ("s", "b", "m", "v")}
    model = one_node("BatchNormalization", {"x": X}, ["y"], stats, opset=15)
    assert lowered(model) is model
