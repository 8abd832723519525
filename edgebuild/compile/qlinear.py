"""Our own lowering of quantized ONNX operators to integer Relax, so int8 stays int8 in model.so.

TVM 0.27's ONNX importer has no QLinearConv/QLinearMatMul/QGemm, and its MatMulInteger widens the
int8 weight to int32 before the matmul (constant folding then stores 4-byte weights). Here each of
these operators becomes one conv2d/matmul on int8 data and int8 constant weights with
out_dtype="int32", then a float requantization. LLVM turns those int8 x int8 -> int32 reductions
into dot-product instructions (sdot) on targets with +dotprod.

Zero points: int8 weights and int8 activations must be symmetric (zero point 0), which is what the
int8-static recipe produces; uint8 activations from DynamicQuantizeLinear are shifted to int8 and the
zero point is corrected exactly with the weight's column sums.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import CompileError

OPS = ("QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger")


def importer_class():
    """The TVM ONNX importer with our converters for OPS and Clip (subclassed, not patched)."""
    from tvm import relax
    from tvm.relax.frontend.onnx.onnx_frontend import ONNXGraphImporter, _get_convert_map

    from .kernels import record_nodes
    from .layout import clip, elementwise_extreme
    from .tvm_errors import message

    class Importer(ONNXGraphImporter):
        nodes_by_op: dict[str, list[str]]  # Relax operator -> ONNX nodes that produced it (kernels.py)

        def _check_for_unsupported_ops(self, graph):
            from onnx import helper

            rest = [n for n in graph.node if n.op_type not in OPS]
            stripped = helper.make_graph(rest, graph.name, [], [])
            super()._check_for_unsupported_ops(stripped)

        def _convert_operator(self, op_name, inputs, attrs, opset):
            node = attrs.get("tvm_custom", {}).get("name")
            label = f"{op_name} {node!r}" if node else f"{op_name} (unnamed)"
            try:
                out = self._convert(op_name, inputs, attrs, opset)
            except CompileError:
                raise
            except Exception as exc:  # the importer's converters raise anything; name the node
                raise CompileError(f"TVM's importer failed on ONNX node {label}: {type(exc).__name__}: "
                                   f"{message(exc)}") from None
            record_nodes(out, label, [i for i in inputs if isinstance(i, relax.Expr)], self.nodes_by_op, self.bb)
            return out

        def _convert(self, op_name, inputs, attrs, opset):
            if op_name in OPS:
                try:
                    return self.bb.normalize(CONVERTERS[op_name](self.bb, inputs, attrs))
                except CompileError as exc:
                    if op_name not in _get_convert_map():
                        raise
                    # TVM's own conversion (int8 widened to int32) is slower but never wrong
                    warnings.warn(f"{exc}; using TVM's own conversion of {op_name}")
            if op_name == "Clip":  # layout-convertible ReLU6 (see layout.py)
                converted = clip(self.bb, inputs, attrs, opset)
                if converted is not None:
                    return converted
            if op_name in ("Min", "Max"):  # pairwise, not the importer's stack + reduce (see layout.py)
                return elementwise_extreme(self.bb, op_name, inputs)
            return super()._convert_operator(op_name, inputs, attrs, opset)

    return Importer


def _const(expr, what: str, op: str) -> np.ndarray:
    from tvm.ir.expr import Constant

    if not isinstance(expr, Constant):
        raise CompileError(f"{op}: {what} must be a constant (an initializer) for the int8 lowering")
    return expr.value.numpy()


def _dtype(expr) -> str:
    dtype = expr.ty.dtype
    return str(getattr(dtype, "dtype", dtype))


def _symmetric(zp, what: str, op: str) -> None:
    if zp is not None and np.any(_const(zp, f"{what} zero point", op) != 0):
        raise CompileError(f"{op}: {what} has a non-zero zero point; the int8 lowering needs symmetric int8 "
                           "quantization (quantize with symmetric activations and weights, e.g. recipe int8-static)")


def _requantize(bb, acc, multiplier: np.ndarray, y_zp, out_dtype: str | None, channel_shape=None):
    """int32 accumulator * multiplier (per tensor or per output channel) -> int8 (or float if out_dtype is None)."""
    from tvm import relax

    m = multiplier.astype(np.float32)
    if channel_shape is not None and m.size > 1:
        m = m.reshape(channel_shape)
    scaled = relax.op.multiply(relax.op.astype(acc, "float32"), relax.const(m))
    if out_dtype is None:
        return scaled
    zp = float(_const(y_zp, "output zero point", "requantize")) if y_zp is not None else 0.0
    info = np.iinfo(out_dtype)
    rounded = relax.op.round(scaled)
    if zp:
        rounded = relax.op.add(rounded, relax.const(np.float32(zp)))
    return relax.op.astype(_clamp(bb, rounded, float(info.min), float(info.max)), out_dtype)


def _clamp(bb, x, low: float, high: float):
    """clip(x, low, high) as maximum/minimum with constants of x's rank: unlike relax clip, these keep
    ConvertLayout's NHWC (no transpose pair around the requantize) and fuse into the int32 kernel."""
    from tvm import relax

    x = bb.normalize(x)
    ones = (1,) * x.ty.ndim
    for value, op in ((low, relax.op.maximum), (high, relax.op.minimum)):
        x = op(x, relax.const(np.full(ones, value, "float32")))
    return x


def _opt(inputs, i):
    return inputs[i] if len(inputs) > i else None


def qlinear_conv(bb, inputs, attrs):
    from tvm import relax

    x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp = inputs[:8]
    bias = _opt(inputs, 8)
    op = "QLinearConv"
    if len(attrs.get("kernel_shape", _const(w, "weight", op).shape[2:])) != 2:
        raise CompileError(f"{op}: only 2-D convolutions are lowered to int8")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise CompileError(f"{op}: auto_pad is not supported; export with explicit pads")
    _symmetric(x_zp, "input", op)
    _symmetric(w_zp, "weight", op)
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    acc = relax.op.nn.conv2d(x, w, strides=tuple(attrs.get("strides", (1, 1))), padding=(pads[0], pads[1], pads[2], pads[3]),
                             dilation=tuple(attrs.get("dilations", (1, 1))), groups=int(attrs.get("group", 1)),
                             out_dtype="int32")
    if bias is not None:
        acc = relax.op.add(acc, relax.const(_const(bias, "bias", op).astype(np.int32).reshape(1, -1, 1, 1)))
    multiplier = (_const(x_scale, "input scale", op) * _const(w_scale, "weight scale", op)
                  / _const(y_scale, "output scale", op))
    return _requantize(bb, acc, np.atleast_1d(multiplier), y_zp, _dtype(x), (1, -1, 1, 1))


def qlinear_matmul(bb, inputs, attrs):
    from tvm import relax

    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = inputs
    op = "QLinearMatMul"
    _symmetric(a_zp, "input A", op)
    _symmetric(b_zp, "input B", op)
    acc = relax.op.matmul(a, b, out_dtype="int32")
    multiplier = (_const(a_scale, "A scale", op) * _const(b_scale, "B scale", op) / _const(y_scale, "output scale", op))
    return _requantize(bb, acc, np.atleast_1d(multiplier), y_zp, _dtype(a))


def qgemm(bb, inputs, attrs):
    """com.microsoft QGemm: Y = alpha * A' B' + C, int8 in, int8 (or float) out."""
    from tvm import relax

    a, a_scale, a_zp, b, b_scale, b_zp = inputs[:6]
    c, y_scale, y_zp = _opt(inputs, 6), _opt(inputs, 7), _opt(inputs, 8)
    op = "QGemm"
    _symmetric(a_zp, "input A", op)
    _symmetric(b_zp, "input B", op)
    if attrs.get("transA", 0):
        a = relax.op.permute_dims(a)
    if attrs.get("transB", 0):
        b = relax.op.permute_dims(b)
    acc = relax.op.matmul(a, b, out_dtype="int32")
    if c is not None:
        acc = relax.op.add(acc, relax.const(_const(c, "bias C", op).astype(np.int32)))
    multiplier = float(attrs.get("alpha", 1.0)) * _const(a_scale, "A scale", op) * _const(b_scale, "B scale", op)
    if y_scale is None:
        return _requantize(bb, acc, np.atleast_1d(multiplier), None, None)
    return _requantize(bb, acc, np.atleast_1d(multiplier / _const(y_scale, "output scale", op)), y_zp, _dtype(a))


def matmul_integer(bb, inputs, attrs):
    """A (uint8 or int8, runtime zero point) x B (int8 constant, symmetric) -> int32, computed in int8."""
    from tvm import relax

    a, b = inputs[0], inputs[1]
    a_zp, b_zp = _opt(inputs, 2), _opt(inputs, 3)
    op = "MatMulInteger"
    if _dtype(b) != "int8":
        raise CompileError(f"{op}: weights must be int8 (quantize weights with QInt8)")
    _symmetric(b_zp, "weight", op)
    colsum = _const(b, "weight B", op).astype(np.int64).sum(axis=-2).astype(np.int32)  # [.., N]
    zp = relax.op.astype(a_zp, "int32") if a_zp is not None else relax.const(np.int32(0))
    if _dtype(a) == "uint8":
        # a - zp == (a - 128) + (128 - zp): the first term is exactly int8, the second a per-row constant.
        a = relax.op.astype(relax.op.subtract(relax.op.astype(a, "int32"), relax.const(np.int32(128))), "int8")
        zp = relax.op.subtract(zp, relax.const(np.int32(128)))
    acc = relax.op.matmul(a, b, out_dtype="int32")
    return relax.op.subtract(acc, relax.op.multiply(zp, relax.const(colsum)))


CONVERTERS = {"QLinearConv": qlinear_conv, "QLinearMatMul": qlinear_matmul, "QGemm": qgemm,
              "MatMulInteger": matmul_integer}
