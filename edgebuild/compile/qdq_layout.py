"""Per-tensor quantize/dequantize of 4-D tensors as element-wise Relax ops, before channels-last conversion.

TVM 0.27's ConvertLayout has no layout rule for relax.quantize/dequantize: around every one of them
(the float residual Add/Relu/MaxPool between int8 convs in a QDQ graph) it leaves the tensor NCHW
with a transpose on each side. On ResNet-18 int8-static those transposes and NCHW element-wise
kernels were ~25% of the run time (kernels table of `invoke build`, 2026-11-29). Written as
divide/round/add/maximum/minimum/astype with constants of the tensor's rank (the same arithmetic,
in the same order, as TVM's own legalization of the two ops), they follow the convs into NHWC and
fuse into their neighbours.

Known cost (measured 2026-11-29, ResNet-18 int8-static, random calibration, host): fused into the
conv epilogue, a dequantize's multiply and the float residual Add after it may become one FMA, where
ONNX Runtime rounds the product first; single int8 values then flip by one step and the logits differ
from ONNX Runtime by up to 5.8e-3 (max |logit| 1.48). The same graph built with mattr -fma differs by
1.3e-6, and without this pass by 1.1e-6. MobileNetV2's residuals add two dequantized tensors: 1.2e-6.
"""

from __future__ import annotations

import numpy as np

from .passes import each_function


def _scalar(expr) -> np.ndarray | None:
    import tvm

    if isinstance(expr, tvm.ir.expr.Constant):
        value = expr.value.numpy()
        if value.size == 1:
            return value.reshape(())
    return None


def elementwise_qdq():
    """A pass rewriting relax.quantize (float32 -> int8/uint8) and relax.dequantize (int8/uint8 -> float32)
    with one constant scale and zero point, on 4-D tensors, as element-wise ops."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Rewrite(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            name = call.op.name if isinstance(call.op, tvm.ir.Op) else ""
            if name not in ("relax.quantize", "relax.dequantize"):
                return call
            x, scale, zp = call.args
            s, z = _scalar(scale), _scalar(zp)
            shape = getattr(x.ty, "shape", None)
            if s is None or z is None or shape is None or len(shape) != 4:
                return call
            out, ones = str(call.attrs.out_dtype), (1, 1, 1, 1)

            def const(value, dtype):
                return relax.const(np.full(ones, value, dtype))

            if name == "relax.quantize":
                if str(x.ty.dtype) != "float32" or out not in ("int8", "uint8"):
                    return call
                info = np.iinfo(out)
                v = relax.op.add(relax.op.round(relax.op.divide(x, const(s, "float32"))), const(z, "float32"))
                v = relax.op.maximum(relax.op.minimum(v, const(info.max, "float32")), const(info.min, "float32"))
                return relax.op.astype(v, out)
            if str(x.ty.dtype) not in ("int8", "uint8") or out != "float32":
                return call
            centred = relax.op.subtract(relax.op.astype(x, "int32"), const(z, "int32"))
            return relax.op.multiply(relax.op.astype(centred, "float32"), const(s, "float32"))

    return each_function("ElementwiseQDQ", Rewrite)
