"""Exact integer conv/matmul of quantized tensors with any zero points, computed as int8 x int8 -> int32.

ONNX's integer operators compute sum((x - zx) * (w - zw)) in int32. Each operand is first made int8
(uint8 - 128 is exactly int8; its zero point moves by 128 too), then

    sum((x - zx)(w - zw)) = sum(x w) - zx * sum(w) - zw * sum(x - zx)

so the one heavy op stays `conv2d`/`matmul` on int8 data and int8 (constant) weights with
out_dtype="int32" — the form the schedule rules tensorise — and the zero points cost a per-channel
constant (zx: the weight's sums, folded at build time) and, only for a non-zero weight zero point, a
window sum of x (a conv with one output per group). A conv whose input zero point is not 0 pads with
that zero point explicitly (ONNX pads quantized tensors with their zero point), then convolves
unpadded. Values here are numpy arrays when known at build time and Relax expressions otherwise.
"""

from __future__ import annotations

import numpy as np

from ..errors import CompileError


def const(expr) -> np.ndarray | None:
    from tvm.ir.expr import Constant

    return expr.value.numpy() if isinstance(expr, Constant) else None


def norm(expr):
    """expr with its type inferred (a fresh call has none until normalized by the importer's builder)."""
    from tvm import relax

    return relax.BlockBuilder.current().normalize(expr)


def dtype(expr) -> str:
    d = norm(expr).ty.dtype
    return str(getattr(d, "dtype", d))


def lift(value, dtype_: str | None = None):
    """A Relax expression of `value` (numpy arrays become constants)."""
    from tvm import relax

    if is_np(value) or isinstance(value, int | float):
        return relax.const(np.asarray(value, dtype=dtype_) if dtype_ else np.asarray(value))
    return relax.op.astype(value, dtype_) if dtype_ and dtype(value) != dtype_ else value


def is_np(value) -> bool:
    """Whether a value is known at build time (numpy array or scalar)."""
    return isinstance(value, np.ndarray | np.generic)


def is_zero(value) -> bool:
    return is_np(value) and not np.any(value)


def binary(op: str, a, b):
    """a op b on numpy values when both are known, else in Relax (int32 for integers)."""
    from tvm import relax

    if is_np(a) and is_np(b):
        return np.asarray({"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide}[op](a, b))
    kind = "int32" if all(_integer(v) for v in (a, b)) else "float32"
    return getattr(relax.op, op)(lift(a, kind), lift(b, kind))


def _integer(value) -> bool:
    return np.issubdtype(value.dtype, np.integer) if is_np(value) else dtype(value).startswith(("int", "uint"))


def reshape(value, shape):
    from tvm import relax

    return value.reshape(shape) if is_np(value) else relax.op.reshape(norm(value), shape)


def as_int8(x, op: str):
    """(x as int8, the shift subtracted): uint8 - 128 is exact in int8."""
    from tvm import relax

    kind = dtype(x)
    if kind == "int8":
        return x, 0
    if kind != "uint8":
        raise CompileError(f"{op}: quantized tensors must be int8 or uint8, got {kind}")
    known = const(x)
    if known is not None:
        return relax.const((known.astype(np.int16) - 128).astype(np.int8)), 128
    return relax.op.astype(relax.op.subtract(relax.op.astype(x, "int32"), relax.const(np.int32(128))), "int8"), 128


def zero_point(zp, shift: int):
    """The zero point minus `shift` (int32; numpy when known, 0 when absent)."""
    if zp is None:
        return np.zeros((), np.int32) - np.int32(shift)
    known = const(zp)
    if known is not None:
        return known.astype(np.int32) - np.int32(shift)
    return binary("subtract", zp, np.int32(shift))


def _sum(value, axis, keepdims: bool):
    from tvm import relax

    if is_np(value):
        return value.astype(np.int64).sum(axis=axis, keepdims=keepdims).astype(np.int32)
    return relax.op.sum(relax.op.astype(value, "int32"), axis=axis, keepdims=keepdims)


def value(x):
    """x's numpy value when it is a constant, else x."""
    known = const(x)
    return known if known is not None else x


def conv(x, x_zp, w, w_zp, attrs, op: str):
    """int32 sum((x - zx)(w - zw)) of an ONNX 2-D conv (NCHW/OIHW) as int8 conv2d plus corrections."""
    from tvm import relax

    kernel = tuple(int(d) for d in w.ty.shape)[2:]
    if len(kernel) != 2:
        raise CompileError(f"{op}: only 2-D convolutions are lowered to int8")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise CompileError(f"{op}: auto_pad is not supported; export with explicit pads")
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    x8, sx = as_int8(x, op)
    w8, sw = as_int8(w, op)
    zx, zw = zero_point(x_zp, sx), zero_point(w_zp, sw)
    groups = int(attrs.get("group", 1))
    kwargs = dict(strides=tuple(attrs.get("strides", (1, 1))), dilation=tuple(attrs.get("dilations", (1, 1))),
                  out_dtype="int32")
    if not is_zero(zx) and any(pads):
        x8, pads = _pad_with(x8, pads, zx), (0, 0, 0, 0)
    padding = (pads[0], pads[1], pads[2], pads[3])
    acc = relax.op.nn.conv2d(x8, w8, padding=padding, groups=groups, **kwargs)
    if not is_zero(zx):
        wsum = _sum(value(w8), axis=(1, 2, 3), keepdims=False)
        acc = binary("subtract", acc, reshape(binary("multiply", zx, wsum), (1, -1, 1, 1)))
    if not is_zero(zw):
        cin, cout = int(w.ty.shape[1]), int(w.ty.shape[0])
        ones = relax.const(np.ones((groups, cin, *kernel), np.int8))
        box = relax.op.nn.conv2d(x8, ones, padding=padding, groups=groups, **kwargs)  # window sums of x, per group
        if groups > 1 and cout // groups > 1:
            box = relax.op.repeat(box, cout // groups, axis=1)
        centred = binary("subtract", box, binary("multiply", zx, np.int32(cin * kernel[0] * kernel[1])))
        acc = binary("subtract", acc, binary("multiply", centred, reshape(zw, (1, -1, 1, 1))))
    return acc


def _pad_with(x8, pads, zx):
    """x padded with the zero point zx (int8 domain), as ONNX pads quantized inputs."""
    from tvm import relax

    width = [0, 0, 0, 0, pads[0], pads[2], pads[1], pads[3]]
    if is_np(zx):
        if zx.size != 1:
            raise CompileError("the input zero point of a quantized conv must be one value (per tensor)")
        return relax.op.nn.pad(x8, width, pad_value=float(zx.reshape(())))
    z = relax.op.astype(zx, "int16")
    shifted = relax.op.nn.pad(relax.op.subtract(relax.op.astype(x8, "int16"), z), width)
    return relax.op.astype(relax.op.add(shifted, z), "int8")


def matmul(a, a_zp, b, b_zp, op: str):
    """int32 sum((a - za)(b - zb)) of an ONNX MatMul (za per tensor or per row, zb per tensor or per column)."""
    from tvm import relax

    a8, sa = as_int8(a, op)
    b8, sb = as_int8(b, op)
    za, zb = zero_point(a_zp, sa), zero_point(b_zp, sb)
    if not is_np(za) or za.size > 1:  # per row: one value per row of a
        za = reshape(za, (-1, 1))
    acc = relax.op.matmul(a8, b8, out_dtype="int32")
    if not is_zero(za):
        colsum = _sum(value(b8), axis=-2, keepdims=True)  # [..., 1, N]
        acc = binary("subtract", acc, binary("multiply", za, colsum))
    if not is_zero(zb):
        rowsum = _sum(a8, axis=-1, keepdims=True)  # [..., M, 1]
        k = np.int32(int(a.ty.shape[-1]))
        acc = binary("subtract", acc, binary("multiply", binary("subtract", rowsum, binary("multiply", za, k)), zb))
    return acc


def requantize(bb, acc, multiplier, y_zp, out_dtype: str | None):
    """float32(acc) * multiplier, rounded half to even, plus the zero point, saturated to out_dtype
    (ONNX Runtime's requantization); the float product alone when out_dtype is None."""
    from tvm import relax

    scaled = binary("multiply", relax.op.astype(acc, "float32"), f32(multiplier))
    if out_dtype is None:
        return scaled
    rounded = relax.op.round(scaled)
    zp = zero_point(y_zp, 0)
    if not is_zero(zp):
        rounded = binary("add", rounded, f32(zp))
    info = np.iinfo(out_dtype)
    return relax.op.astype(clamp(bb, rounded, float(info.min), float(info.max)), out_dtype)


def f32(value):
    """A scale as float32 (numpy when known): ONNX Runtime computes its multipliers in float32."""
    from tvm import relax

    if not is_np(value) and const(value) is not None:
        value = const(value)
    if is_np(value):
        return value.astype(np.float32)
    return value if dtype(value) == "float32" else relax.op.astype(value, "float32")


def clamp(bb, x, low: float, high: float):
    """clip(x, low, high) as maximum/minimum with constants of x's rank: unlike relax clip, these keep
    ConvertLayout's NHWC (no transpose pair around the requantize) and fuse into the int32 kernel."""
    from tvm import relax

    x = bb.normalize(x)
    ones = (1,) * x.ty.ndim
    for value, op in ((low, relax.op.maximum), (high, relax.op.minimum)):
        x = op(x, relax.const(np.full(ones, value, "float32")))
    return x
