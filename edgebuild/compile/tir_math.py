"""Element-wise float32 math as TIR expressions, for hand-written kernels (recurrent_kernel.py).

exp and tanh are TVM's fast_exp / fast_tanh formulas, as the fast-math pass gives every other kernel:
they vectorise (no libm call). ONNX's recurrent activations are built on them.
"""

from __future__ import annotations


def f32(v):
    from tvm import tirx

    return tirx.const(v, "float32")


def fast_exp(x):
    """Cephes-style exp: 2^n * p(r), within 2e-6 relative for |x| < 80 (test_tir_math.py)."""
    from tvm import tirx

    x = tirx.max(tirx.min(x, f32(88.3762626647950)), f32(-88.3762626647949))
    n = tirx.floor(x * f32(1.44269504088896341) + f32(0.5))
    r = x - n * f32(0.6931471805599453)
    p = f32(1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1):
        p = p * r + f32(c)
    scale = tirx.reinterpret("float32", tirx.shift_left(tirx.Cast("int32", n) + 127, 23))
    return (p * r * r + r + f32(1.0)) * scale


def fast_tanh(x):
    """Rational approximation on [-9, 9] (saturated beyond), within 1e-6 absolute (test_tir_math.py)."""
    from tvm import tirx

    x = tirx.max(tirx.min(x, f32(9.0)), f32(-9.0))
    x2 = x * x
    p = f32(-2.76076847742355e-16)
    for c in (2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08, 1.48572235717979e-05,
              6.37261928875436e-04, 4.89352455891786e-03):
        p = p * x2 + f32(c)
    q = f32(1.19825839466702e-06)
    for c in (1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03):
        q = q * x2 + f32(c)
    return x * p / q


def activation(name: str, alpha, beta, x):
    """ONNX's recurrent activation `name` of the float32 expression x."""
    from tvm import tirx

    zero, one = f32(0.0), f32(1.0)
    if name == "Sigmoid":
        return one / (one + fast_exp(-x))
    if name == "Tanh":
        return fast_tanh(x)
    if name == "Relu":
        return tirx.max(x, zero)
    if name == "Softsign":
        return x / (one + tirx.abs(x))
    if name == "Softplus":
        return tirx.log(one + tirx.exp(x))
    if name == "LeakyRelu":
        return tirx.Select(x >= zero, x, x * f32(alpha))
    if name == "ThresholdedRelu":
        return tirx.Select(x > f32(alpha), x, zero)
    if name == "Elu":
        return tirx.Select(x >= zero, x, f32(alpha) * (fast_exp(x) - one))
    if name == "HardSigmoid":
        return tirx.max(zero, tirx.min(one, f32(alpha) * x + f32(beta)))
    if name == "Affine":
        return f32(alpha) * x + f32(beta)
    if name == "ScaledTanh":
        return f32(alpha) * fast_tanh(f32(beta) * x)
    raise ValueError(f"unknown recurrent activation {name!r}")
