"""ONNX Runtime's element-wise quantized operators (com.microsoft), as its quantizer writes them in
QOperator format, lowered the way ONNX Runtime computes them.

Sigmoid, LeakyRelu and a Concat input whose scale differs from the output's are 256-entry lookup
tables computed here (ONNX Runtime builds the same tables); Add, Mul, GlobalAveragePool and Softmax compute
in float32 from the integer values with ONNX Runtime's scale ratios, then round half to even and
saturate. Scales and zero points must be constants, as the quantizer writes them.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompileError
from . import qint


def _known(expr, what: str, op: str) -> np.ndarray:
    value = qint.const(expr) if expr is not None else np.zeros((), np.uint8)
    if value is None:
        raise CompileError(f"{op}: the {what} must be a constant (an initializer), as ONNX Runtime's quantizer writes it")
    return value


def _params(inputs, i: int, op: str):
    """(scale float32, zero point int32) of the quantized input whose scale is inputs[i]."""
    scale = _known(inputs[i], "scale", op).astype(np.float32)
    zp = _known(inputs[i + 1] if len(inputs) > i + 1 else None, "zero point", op).astype(np.int32)
    return scale, zp


def _saturate(bb, x, zp: np.ndarray, out_dtype: str):
    """round half to even, add the zero point, saturate: ONNX Runtime's quantization of a float value."""
    from tvm import relax

    info = np.iinfo(out_dtype)
    rounded = qint.binary("add", relax.op.round(x), zp.astype(np.float32))
    return relax.op.astype(qint.clamp(bb, rounded, float(info.min), float(info.max)), out_dtype)


def _centred(x, zp: np.ndarray):
    from tvm import relax

    return qint.binary("subtract", relax.op.astype(x, "int32"), zp)


def _out_dtype(inputs, i: int, x) -> str:
    return qint.dtype(inputs[i]) if len(inputs) > i and inputs[i] is not None else qint.dtype(x)


def _table(bb, x, fn, x_scale, x_zp, y_scale, y_zp, out_dtype: str):
    """y = table[x], table[q] = quantize(fn(dequantize(q))) over every value q of x's type."""
    from tvm import relax

    info = np.iinfo(qint.dtype(x))
    q = np.arange(info.min, info.max + 1, dtype=np.int32)
    with np.errstate(over="ignore"):  # exp overflows to inf for the table's far ends: sigmoid 0 there
        real = fn((q - x_zp).astype(np.float32) * x_scale).astype(np.float32)
    out = np.iinfo(out_dtype)
    table = np.clip(np.rint(real / y_scale) + y_zp, out.min, out.max).astype(out_dtype)
    index = relax.op.astype(x, "int32")
    if info.min:
        index = relax.op.subtract(index, relax.const(np.int32(info.min)))
    return relax.op.take(relax.const(table), index, axis=0)


def _unary(fn):
    def convert(bb, inputs, attrs, op):
        x_scale, x_zp = _params(inputs, 1, op)
        y_scale, y_zp = _params(inputs, 3, op)
        return _table(bb, inputs[0], fn(attrs), x_scale, x_zp, y_scale, y_zp, _out_dtype(inputs, 4, inputs[0]))

    return convert


def _sigmoid(attrs):
    return lambda v: 1.0 / (1.0 + np.exp(-v))


def _leaky_relu(attrs):
    alpha = np.float32(attrs.get("alpha", 0.01))
    return lambda v: np.where(v >= 0, v, v * alpha)


def qlinear_add(bb, inputs, attrs, op):
    a_scale, a_zp = _params(inputs, 1, op)
    b_scale, b_zp = _params(inputs, 4, op)
    c_scale, c_zp = _params(inputs, 6, op)
    a = qint.binary("multiply", _float(_centred(inputs[0], a_zp)), a_scale / c_scale)
    b = qint.binary("multiply", _float(_centred(inputs[3], b_zp)), b_scale / c_scale)
    return _saturate(bb, qint.binary("add", a, b), c_zp, _out_dtype(inputs, 7, inputs[0]))


def qlinear_mul(bb, inputs, attrs, op):
    a_scale, a_zp = _params(inputs, 1, op)
    b_scale, b_zp = _params(inputs, 4, op)
    c_scale, c_zp = _params(inputs, 6, op)
    product = qint.binary("multiply", _centred(inputs[0], a_zp), _centred(inputs[3], b_zp))
    scaled = qint.binary("multiply", _float(product), a_scale * b_scale / c_scale)
    return _saturate(bb, scaled, c_zp, _out_dtype(inputs, 7, inputs[0]))


def qlinear_global_average_pool(bb, inputs, attrs, op):
    from tvm import relax

    x = inputs[0]
    x_scale, x_zp = _params(inputs, 1, op)
    y_scale, y_zp = _params(inputs, 3, op)
    axes = [1, 2] if attrs.get("channels_last", 0) else [2, 3]
    size = int(np.prod([int(x.ty.shape[a]) for a in axes]))
    total = relax.op.sum(relax.op.astype(x, "int32"), axis=axes, keepdims=True)
    centred = qint.binary("subtract", total, x_zp * np.int32(size))
    scaled = qint.binary("multiply", _float(centred), x_scale / (y_scale * np.float32(size)))
    return _saturate(bb, scaled, y_zp, _out_dtype(inputs, 4, x))


def qlinear_concat(bb, inputs, attrs, op):
    """Inputs are (Y_scale, Y_zero_point, then X, X_scale, X_zero_point per input)."""
    from tvm import relax

    y_scale, y_zp = _params(inputs, 0, op)
    out_dtype = qint.dtype(inputs[1]) if inputs[1] is not None else qint.dtype(inputs[2])
    parts = []
    for i in range(2, len(inputs), 3):
        x = inputs[i]
        x_scale, x_zp = _params(inputs, i + 1, op)
        same = np.array_equal(x_scale, y_scale) and np.array_equal(x_zp, y_zp) and qint.dtype(x) == out_dtype
        parts.append(x if same else _table(bb, x, lambda v: v, x_scale, x_zp, y_scale, y_zp, out_dtype))
    return relax.op.concat(parts, axis=int(attrs.get("axis", 0)))


def qlinear_softmax(bb, inputs, attrs, op):
    """Softmax of the dequantized input, quantized (ONNX Runtime tabulates the same exponentials)."""
    from tvm import relax

    x = inputs[0]
    x_scale, x_zp = _params(inputs, 1, op)
    y_scale, y_zp = _params(inputs, 3, op)
    ndim = len(x.ty.shape)
    axis = int(attrs.get("axis", -1)) % ndim
    if int(attrs.get("opset", 13)) < 13 and axis != ndim - 1:
        raise CompileError(f"{op}: softmax over flattened axes (opset < 13, axis {axis}) is not supported")
    real = qint.binary("multiply", _float(_centred(x, x_zp)), x_scale)
    probs = relax.op.nn.softmax(qint.norm(real), axis=axis)
    return _saturate(bb, qint.binary("divide", probs, y_scale), y_zp, _out_dtype(inputs, 4, x))


def _float(x):
    from tvm import relax

    return relax.op.astype(x, "float32")


def _named(fn, op):
    return lambda bb, inputs, attrs: fn(bb, inputs, attrs, op)


CONVERTERS = {name: _named(fn, name) for name, fn in {
    "QLinearAdd": qlinear_add, "QLinearMul": qlinear_mul, "QLinearGlobalAveragePool": qlinear_global_average_pool,
    "QLinearConcat": qlinear_concat, "QLinearSoftmax": qlinear_softmax, "QLinearSigmoid": _unary(_sigmoid), "QLinearLeakyRelu": _unary(_leaky_relu),
}.items()}
OPS = tuple(CONVERTERS)
