"""Our own lowering of quantized ONNX operators to integer Relax, so int8 stays int8 in model.so.

TVM 0.27's ONNX importer has no QLinearConv/QLinearMatMul/ConvInteger/QGemm, and its MatMulInteger
widens the int8 weight to int32 before the matmul (constant folding then stores 4-byte weights).
Here each of these operators becomes one conv2d/matmul on int8 data and int8 constant weights with
out_dtype="int32" (qint.py: any zero points, uint8 or int8), then ONNX Runtime's float
requantization. LLVM turns those int8 x int8 -> int32 reductions into dot-product instructions
(sdot) on targets with +dotprod. ONNX Runtime's element-wise quantized operators are in
qelementwise.py; QDQ graphs are first rewritten into these operators (qdq.py).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import CompileError
from . import qelementwise, qint, resize
from .qint import binary, f32, reshape

OPS = ("QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger", "ConvInteger", "DynamicQuantizeLinear",
       *qelementwise.OPS)


def importer_class():
    """The TVM ONNX importer with our converters for OPS and Clip (subclassed, not patched)."""
    from tvm import relax
    from tvm.relax.frontend.onnx.onnx_frontend import ONNXGraphImporter, _get_convert_map

    from . import recurrent
    from .kernels import record_nodes
    from .layout import clip, elementwise_extreme
    from .tvm_errors import message

    class Importer(ONNXGraphImporter):
        nodes_by_op: dict[str, list[str]]  # Relax operator -> ONNX nodes that produced it (kernels.py)

        def _check_for_unsupported_ops(self, graph):
            from onnx import helper

            rest = [n for n in graph.node if n.op_type not in OPS and n.op_type != recurrent.STEPS_OP]
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
            if op_name == recurrent.STEPS_OP:
                return recurrent.convert(self.bb, inputs, attrs)
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
            if op_name == "Resize":
                inputs = resize.absent_when_empty(inputs)
            return super()._convert_operator(op_name, inputs, attrs, opset)

    return Importer


def _opt(inputs, i):
    return inputs[i] if len(inputs) > i else None


def _per_channel(bb, scale, shape):
    """A per-channel scale (more than one value) reshaped to broadcast over `shape`'s channel axis."""
    if qint.is_np(scale):
        return scale.reshape(shape) if scale.size > 1 else scale
    scale = bb.normalize(scale)
    return reshape(scale, shape) if scale.ty.ndim == 1 else scale


def _out_dtype(y_zp, x) -> str:
    return qint.dtype(y_zp if y_zp is not None else x)


def qlinear_conv(bb, inputs, attrs):
    x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp = inputs[:8]
    bias = _opt(inputs, 8)
    acc = qint.conv(x, x_zp, w, w_zp, attrs, "QLinearConv")
    if bias is not None:
        acc = binary("add", acc, reshape(qint.value(bias), (1, -1, 1, 1)))
    multiplier = binary("divide", binary("multiply", f32(x_scale), f32(w_scale)), f32(y_scale))
    return qint.requantize(bb, acc, _per_channel(bb, multiplier, (1, -1, 1, 1)), y_zp, _out_dtype(y_zp, x))


def conv_integer(bb, inputs, attrs):
    x, w = inputs[0], inputs[1]
    return qint.conv(x, _opt(inputs, 2), w, _opt(inputs, 3), attrs, "ConvInteger")


def qlinear_matmul(bb, inputs, attrs):
    a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp = inputs
    acc = qint.matmul(a, a_zp, b, b_zp, "QLinearMatMul")
    a_scale = _per_channel(bb, f32(a_scale), (-1, 1))  # per row of A; B's per column broadcasts as is
    multiplier = binary("divide", binary("multiply", a_scale, f32(b_scale)), f32(y_scale))
    return qint.requantize(bb, acc, multiplier, y_zp, _out_dtype(y_zp, a))


def matmul_integer(bb, inputs, attrs):
    return qint.matmul(inputs[0], _opt(inputs, 2), inputs[1], _opt(inputs, 3), "MatMulInteger")


def qgemm(bb, inputs, attrs):
    """com.microsoft QGemm: Y = alpha * A' B' + C, int8/uint8 in, quantized (or float when y_scale is absent) out."""
    from tvm import relax

    a, a_scale, a_zp, b, b_scale, b_zp = inputs[:6]
    c, y_scale, y_zp = _opt(inputs, 6), _opt(inputs, 7), _opt(inputs, 8)
    if attrs.get("transA", 0):
        a = bb.normalize(relax.op.permute_dims(a))
    if attrs.get("transB", 0):
        known = qint.const(b)  # transposed here so the stored int8 weight is already [K, N]
        b = relax.const(np.ascontiguousarray(known.T)) if known is not None else bb.normalize(relax.op.permute_dims(b))
    acc = qint.matmul(a, a_zp, b, b_zp, "QGemm")
    if c is not None:  # int32, in units of a_scale * b_scale
        acc = binary("add", acc, qint.value(c))
    multiplier = binary("multiply", np.float32(attrs.get("alpha", 1.0)), binary("multiply", f32(a_scale), f32(b_scale)))
    if y_scale is None:
        return qint.requantize(bb, acc, multiplier, None, None)
    return qint.requantize(bb, acc, binary("divide", multiplier, f32(y_scale)), y_zp, _out_dtype(y_zp, a))


def dynamic_quantize_linear(bb, inputs, attrs):
    """uint8 x with its run-time scale and zero point, as ONNX Runtime computes them: the range widened
    to hold 0, scale = range / 255 (1 for an all-zero x: TVM's converter divides by 0 there), zero point
    and values rounded half to even (relax round) and saturated."""
    from tvm import relax

    x = bb.normalize(inputs[0])
    zero, top = relax.const(np.float32(0)), relax.const(np.float32(255))
    low = relax.op.minimum(relax.op.min(x), zero)
    high = relax.op.maximum(relax.op.max(x), zero)
    span = bb.normalize(relax.op.subtract(high, low))
    scale = bb.normalize(relax.op.where(relax.op.equal(span, zero), relax.const(np.float32(1)),
                                        relax.op.divide(span, top)))
    zp = bb.normalize(relax.op.round(relax.op.clip(relax.op.negative(relax.op.divide(low, scale)), 0, 255)))
    y = relax.op.add(relax.op.round(relax.op.divide(x, scale)), zp)
    y = relax.op.astype(qint.clamp(bb, y, 0.0, 255.0), "uint8")
    return relax.Tuple([bb.normalize(y), scale, bb.normalize(relax.op.astype(zp, "uint8"))])


CONVERTERS = {"QLinearConv": qlinear_conv, "QLinearMatMul": qlinear_matmul, "QGemm": qgemm,
              "MatMulInteger": matmul_integer, "ConvInteger": conv_integer,
              "DynamicQuantizeLinear": dynamic_quantize_linear, **qelementwise.CONVERTERS}
