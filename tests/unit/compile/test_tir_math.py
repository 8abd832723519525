"""The TIR activations of hand-written kernels against numpy."""

import numpy as np
import pytest

from edgebuild.compile import tir_math


def _run(fn, x):
    import tvm
    from tvm import te

    a = te.placeholder(x.shape, "float32", "a")
    out = te.compute(x.shape, lambda i: fn(a[i]), name="out")
    lib = tvm.compile(te.create_prim_func([a, out]), target="llvm")
    got = tvm.runtime.tensor(np.zeros_like(x))
    lib(tvm.runtime.tensor(x), got)
    return got.numpy()


X = np.concatenate([np.linspace(-30, 30, 20001), [-100.0, -1e-6, 0.0, 1e-6, 100.0]]).astype(np.float32)


def test_fast_exp_is_within_2e_6_relative():
    x = X[np.abs(X) < 80]
    assert np.max(np.abs(_run(tir_math.fast_exp, x) / np.exp(x.astype(np.float64)) - 1)) < 2e-6


def test_fast_tanh_is_within_1e_6_absolute_and_saturates():
    got = _run(tir_math.fast_tanh, X)
    assert np.max(np.abs(got - np.tanh(X.astype(np.float64)))) < 1e-6
    assert got[X == 100.0][0] == pytest.approx(1.0) and got[X == -100.0][0] == pytest.approx(-1.0)


@pytest.mark.parametrize("name, alpha, beta, expected", [
    ("Sigmoid", None, None, lambda x: 1 / (1 + np.exp(-x))),
    ("Relu", None, None, lambda x: np.maximum(x, 0)),
    ("LeakyRelu", 0.3, None, lambda x: np.where(x >= 0, x, 0.3 * x)),
    ("ThresholdedRelu", 1.5, None, lambda x: np.where(x > 1.5, x, 0)),
    ("Elu", 0.7, None, lambda x: np.where(x >= 0, x, 0.7 * (np.exp(x) - 1))),
    ("HardSigmoid", 0.2, 0.5, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    ("Softsign", None, None, lambda x: x / (1 + np.abs(x))),
    ("Softplus", None, None, lambda x: np.log1p(np.exp(x))),
    ("Affine", 2.0, -1.0, lambda x: 2 * x - 1),
    ("ScaledTanh", 1.5, 0.5, lambda x: 1.5 * np.tanh(0.5 * x)),
])
def test_recurrent_activations(name, alpha, beta, expected):
    x = np.linspace(-8, 8, 1601).astype(np.float32)
    got = _run(lambda v: tir_math.activation(name, alpha, beta, v), x)
    np.testing.assert_allclose(got, expected(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
