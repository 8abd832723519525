"""Channels-last (NHWC activations, HWIO weights) for convolutions on CPUs.

With NHWC the schedule rules vectorise over output channels with contiguous weights; under NCHW
the same rules are 3-13x slower (W becomes the vector axis). The weight permutes fold away at
build time; one input and one output transpose remain.

TVM 0.27 pitfall: ConvertLayout leaves binary ops with a 0-d constant (ReLU6 as ONNX Clip ->
maximum/minimum with scalars) in NCHW and wraps each in a transpose pair, which also stops them
fusing into the convolution. Scalar constants are expanded to rank 4 first, and Clip is imported
as high-level maximum/minimum (see `clip`) instead of the importer's opaque call_tir. Once the
layout is settled, bounds become clip again with immediate values (`_bounds_to_clip`), so they are
not kernel arguments: on rpi5 this took the int8 digits-cnn model.so from 76,976 to 72,240 bytes.
ConvertLayout has no rule for quantize/dequantize either (the float residual Add between int8 convs
ran in NCHW between transposes): per-tensor ones become the same arithmetic as element-wise ops.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import const_permute
from .passes import each_function
from .tvm_errors import is_tvm_error, message

# conv2d_transpose follows its input into NHWC unless told otherwise, and TVM 0.27 has no NHWC
# legalization for it ("CodeGenVM cannot emit this Relax operator"): it keeps NCHW between transposes.
# Most reach here as Conv + pixel shuffle instead (conv_transpose.py); these are the ones it leaves.
DESIRED = {"relax.nn.conv2d": ["NHWC", "HWIO"], "relax.nn.conv2d_transpose": ["NCHW", "IOHW"]}
BINARY = {"relax.maximum", "relax.minimum", "relax.add", "relax.multiply", "relax.subtract", "relax.divide"}


def to_nhwc():
    """Channels-last for a module with 2-D convolutions; any other module is left as it is.

    TVM's ConvertLayout fails on some operators it visits on the way (squeeze with negative axes:
    bad_alloc; min over a stack: "Invalid SLayout"). Axes are made non-negative first; a module TVM
    still cannot convert keeps its layout whole (slower, never wrong), with a warning that says why."""
    import tvm
    from tvm import relax

    convert = tvm.transform.Sequential([
        _per_tensor_qdq(), _leaky_relu_as_maximum(), _expand_scalar_consts(), _non_negative_axes(), relax.transform.Normalize(),
        relax.transform.ConvertLayout(DESIRED), const_permute.fold(),
        relax.transform.FoldConstant(), _bounds_to_clip(),
    ])

    @tvm.transform.module_pass(opt_level=0, name="ToNHWC")
    def run(mod, _ctx):
        if not _has_conv2d(mod):
            return mod
        try:
            return convert(mod)
        except Exception as exc:
            if not is_tvm_error(exc):
                raise
            warnings.warn(f"channels-last conversion failed, the graph keeps its layout: {message(exc)}")
            return mod

    return run


def _has_conv2d(mod) -> bool:
    from tvm import relax

    found = []

    def visit(expr):
        if isinstance(expr, relax.Call) and getattr(expr.op, "name", "") == "relax.nn.conv2d":
            found.append(expr)

    for func in mod.functions.values():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func, visit)
    return bool(found)


def _non_negative_axes():
    """squeeze/expand_dims with negative axes -> the same axes counted from the front."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Axes(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            name = getattr(call.op, "name", "")
            if name not in ("relax.squeeze", "relax.expand_dims") or call.attrs.axis is None:
                return call
            axes = [int(a) for a in call.attrs.axis]
            rank = _rank(call.args[0]) + (len(axes) if name == "relax.expand_dims" else 0)
            if rank < 0 or all(a >= 0 for a in axes):
                return call
            fixed = [a + rank if a < 0 else a for a in axes]
            op = relax.op.squeeze if name == "relax.squeeze" else relax.op.expand_dims
            return op(call.args[0], fixed)

    return each_function("NonNegativeAxes", Axes)


def clip(bb, inputs, attrs, opset):
    """ONNX Clip (opset >= 11, constant bounds; float, or int8 as the int8 recipes' ReLU) as relax
    maximum/minimum; None: the importer's own."""
    import tvm
    from tvm import relax

    x = inputs[0]
    bounds = list(inputs[1:3]) + [None] * (3 - len(inputs))
    if opset < 11 or not all(b is None or isinstance(b, tvm.ir.expr.Constant) for b in bounds[:2]):
        return None
    dtype = str(x.ty.dtype)
    if not (dtype.startswith("float") or dtype in ("int8", "uint8")) or x.ty.shape is None:
        return None
    ones = (1,) * len(x.ty.shape)
    values = [None if b is None else float(np.asarray(b.value.numpy())) for b in bounds[:2]]
    if values[0] == 0 and values[1] in (None, float(np.iinfo(dtype).max) if dtype in ("int8", "uint8") else None):
        return bb.normalize(relax.op.nn.relu(x))  # ReLU needs no constant (each is one more kernel argument)
    out = x
    for bound, op in zip(bounds[:2], (relax.op.maximum, relax.op.minimum)):
        if bound is not None:
            value = float(np.asarray(bound.value.numpy()))
            out = bb.normalize(op(out, relax.const(np.full(ones, value, dtype))))
    return out


def elementwise_extreme(bb, op_name: str, inputs):
    """ONNX Min/Max of any number of inputs as a chain of broadcasting minimum/maximum. The importer's
    stack-then-reduce is a copy of every input, and ConvertLayout cannot convert it ("Invalid SLayout")."""
    from tvm import relax

    op = relax.op.minimum if op_name == "Min" else relax.op.maximum
    out = inputs[0]
    for other in inputs[1:]:
        out = bb.normalize(op(out, other))
    return out


def _rank(expr) -> int:
    shape = getattr(getattr(expr, "ty", None), "shape", None)
    return len(shape) if shape is not None else -1


def _expand_scalar_consts():
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Expand(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op) or call.op.name not in BINARY or len(call.args) != 2:
                return call
            a, b = call.args
            for tensor, scalar, first in ((a, b, True), (b, a, False)):
                if _rank(tensor) == 4 and isinstance(scalar, tvm.ir.expr.Constant) and _rank(scalar) == 0:
                    k = relax.const(np.asarray(scalar.value.numpy()).reshape(1, 1, 1, 1))
                    return relax.Call(call.op, [tensor, k] if first else [k, tensor], call.attrs)
            return call

    return each_function("ExpandScalarConsts", Expand)


def _leaky_relu_as_maximum():
    """leakyrelu(x, a) with 0 <= a <= 1 -> maximum(x, a * x), the same values: ConvertLayout has no rule for
    leakyrelu, so each one sat in NCHW between two transposes (oww-speech-embedding: 10 pairs)."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Maximum(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op) or call.op.name != "relax.nn.leakyrelu":
                return call
            x, alpha = call.args[0], float(call.attrs.alpha)
            dtype = str(getattr(x.ty, "dtype", ""))
            if not dtype.startswith("float") or not 0.0 <= alpha <= 1.0 or _rank(x) < 0:
                return call
            slope = relax.const(np.full((1,) * _rank(x), alpha, dtype))
            return relax.op.maximum(x, relax.op.multiply(x, slope))

    return each_function("LeakyReluAsMaximum", Maximum)


def _per_tensor_qdq():
    """quantize/dequantize with one-value constant scale and zero point -> their element-wise arithmetic
    (TVM's own legalization: clip(round(x / scale) + zp), (x - zp) * scale), which ConvertLayout can move."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Arithmetic(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op) or call.op.name not in ("relax.quantize", "relax.dequantize"):
                return call
            x, scale, zp = call.args
            out_dtype, in_dtype = str(call.attrs.out_dtype), str(getattr(x.ty, "dtype", ""))
            quantize = call.op.name == "relax.quantize"
            if (in_dtype, out_dtype) not in ((("float32", "int8"), ("float32", "uint8")) if quantize else
                                             (("int8", "float32"), ("uint8", "float32"), ("int32", "float32"))):
                return call
            if not all(isinstance(c, tvm.ir.expr.Constant) and c.value.numpy().size == 1 for c in (scale, zp)) \
                    or _rank(x) < 0:
                return call
            scale_c, zp_v = relax.const(np.float32(scale.value.numpy().item())), zp.value.numpy().item()
            if not quantize:  # the zero point subtracted in int32, as TVM does
                centred = relax.op.subtract(relax.op.astype(x, "int32"), relax.const(np.int32(zp_v))) if zp_v else x
                product = relax.op.multiply(relax.op.astype(centred, "float32"), scale_c)
                # + 0.0: fused into a residual add, LLVM contracts the product into an FMA (one rounding
                # fewer than ONNX Runtime: ResNet-18 int8 drifted 0.0058 from it). fma(q, s, 0) is the
                # rounded product itself, and the outer add then has no product left to contract.
                return relax.op.add(product, relax.const(np.float32(0.0)))
            rounded = relax.op.round(relax.op.divide(x, scale_c))
            rounded = relax.op.add(rounded, relax.const(np.float32(zp_v))) if zp_v else rounded
            info, ones = np.iinfo(out_dtype), (1,) * _rank(x)  # bounds of x's rank, as qint.clamp writes them
            low, high = (relax.const(np.full(ones, v, "float32")) for v in (info.min, info.max))
            return relax.op.astype(relax.op.minimum(relax.op.maximum(rounded, low), high), out_dtype)

    return each_function("PerTensorQDQ", Arithmetic)


def _bounds_to_clip():
    """After ConvertLayout: maximum/minimum with a one-value constant -> clip with immediate bounds.

    Same values; the constant is no longer an argument of the fused kernel (each argument costs the
    kernel's entry code its own checks: ~0.7 KB of aarch64 code per argument, measured on the int8
    requantize). clip is opaque to ConvertLayout, so this runs only once the layout is settled."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Bounds(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op) or call.op.name not in ("relax.maximum", "relax.minimum"):
                return call
            x, bound = call.args
            if not isinstance(bound, tvm.ir.expr.Constant) or _rank(x) < _rank(bound):
                return call
            value, dtype = bound.value.numpy(), str(x.ty.dtype)
            if value.size != 1 or str(value.dtype) != dtype:
                return call
            info = np.iinfo(dtype) if dtype.startswith(("int", "uint")) else np.finfo(dtype)
            v = value.item()
            top, bottom = np.asarray(info.max).item(), np.asarray(info.min).item()  # iinfo's are ints already
            low, high = (v, top) if call.op.name == "relax.maximum" else (bottom, v)
            return relax.op.clip(x, relax.prim_value(low), relax.prim_value(high))

    return each_function("BoundsToClip", Bounds)
