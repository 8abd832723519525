"""Output channels padded to a whole number of SIMD vectors, for convolutions on CPUs.

A 65-channel convolution (a detector head) leaves a 1-lane tail that the vectoriser cannot handle:
the whole kernel runs scalar (2.4 ms for a 20x20x160 -> 65 1x1 conv on one AVX-512 core). Zero
weights pad it to 80 channels and a slice drops them again; the padded weights fold into constants
at build time.
"""

from __future__ import annotations

from .passes import each_function


def padded_channels(out: int, vec: int) -> int:
    """Channels after padding: unchanged when a multiple of half a vector (24 and 40 are tiled with
    half-width vectors as they are) or narrower than that; else whole vectors when that wastes at
    most a third, half vectors otherwise. Measured on AVX-512, one core: 65 -> 80 0.056 ms (-> 72
    0.074, unpadded 2.4); 20 -> 24 0.236 ms (-> 32 0.286, unpadded 0.40)."""
    half = max(4, vec // 2)
    if out % half == 0 or out < half:
        return out
    whole = -(-out // vec) * vec
    return whole if whole <= out * 4 / 3 else -(-out // half) * half


def pad_out_channels(vec: int):
    """A pass padding NHWC/HWIO, ungrouped conv2d's output channels (constant weights) as
    `padded_channels` says, for `vec`-lane vectors. int8 convs pad to their own kernel's lanes (int8_conv.py)."""
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    def constant_weight(expr) -> bool:
        if isinstance(expr, tvm.ir.expr.Constant):
            return True
        return (isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op)
                and expr.op.name == "relax.permute_dims" and isinstance(expr.args[0], tvm.ir.expr.Constant))

    @mutator
    class Pad(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if not (isinstance(call.op, tvm.ir.Op) and call.op.name == "relax.nn.conv2d"):
                return call
            attrs, weight = call.attrs, call.args[1]
            if (attrs.groups != 1 or attrs.data_layout != "NHWC" or attrs.kernel_layout != "HWIO"
                    or attrs.out_layout != "NHWC" or str(call.args[0].ty.dtype) in ("int8", "uint8")
                    or not constant_weight(self.lookup(weight))):
                return call
            out = int(weight.ty.shape[3])
            extra = padded_channels(out, vec) - out
            if extra == 0:
                return call
            padded = relax.op.nn.pad(weight, [0, 0, 0, 0, 0, 0, 0, extra])
            conv = relax.op.nn.conv2d(call.args[0], padded, attrs.strides, attrs.padding, attrs.dilation,
                                      attrs.groups, "NHWC", "HWIO", "NHWC", attrs.out_dtype)
            return relax.op.strided_slice(conv, [3], [0], [out])

        def lookup(self, expr):
            if isinstance(expr, relax.Var):
                bound = self.lookup_binding(expr)
                return bound if bound is not None else expr
            return expr

    return each_function("PadOutChannels", Pad)
