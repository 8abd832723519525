"""int8 x int8 -> int32 matmuls with constant weights, rewritten for the target's dot-product kernel.

`pack(mod, target)` replaces every `matmul(x, W, out_dtype="int32")` where x is int8/uint8 and W a
constant int8 K x N matrix (as qlinear.py lowers QGemm, QLinearMatMul and MatMulInteger, and as any
other int8 lowering produces them) by one TE kernel that reads W packed at build time as
[N/lanes, K/group, lanes, group] (int8_intrin.py), the layout the micro-kernel loads as one vector.
Activations are converted once per kernel to what the instruction reads: to int16 (x86 vpmaddwd,
exact for both signs), or shifted by 128 between uint8 and int8 (vpdpbusd is u8 x s8, sdot s8 x s8),
the shift corrected exactly with the weight's column sums. The result is the same int32 as the matmul.
The MAC block carries the scheme's name (block attribute BLOCK_ATTR) for the schedule rule
(schedule/int8.py).
"""

from __future__ import annotations

import numpy as np

from . import int8_conv
from .int8_intrin import BLOCK_ATTR, Scheme, scheme_for
from .const_weight import constant_weight, rewrite_functions


def pack_weight(w: np.ndarray, scheme: Scheme) -> np.ndarray:
    """K x N int8 -> [N/lanes, K/group, lanes, group]."""
    k, n = w.shape
    g, lanes = scheme.group, scheme.lanes
    return np.ascontiguousarray(w.reshape(k // g, g, n // lanes, lanes).transpose(2, 0, 3, 1))


def fits(k: int, n: int, scheme: Scheme) -> bool:
    return k % scheme.group == 0 and n % scheme.lanes == 0


def kernel(x, packed, shift: int, scheme: Scheme):
    """TE: out[..., n] = sum_k convert(x[..., k]) * packed[n/lanes, k/group, n%lanes, k%group]."""
    from tvm import te

    *lead, k = (int(d) for d in x.shape)
    n = int(packed.shape[0]) * scheme.lanes
    lanes, g = scheme.lanes, scheme.group

    def convert(*i):
        v = x(*i)
        if shift:
            v = (v.astype("int32") + shift).astype(scheme.a_dtype)
        return v.astype(scheme.a_dtype) if str(x.dtype) != scheme.a_dtype else v

    xa = te.compute(x.shape, convert, name="int8_operand") if str(x.dtype) != scheme.a_dtype or shift else x
    r = te.reduce_axis((0, k), "k")
    return te.compute(
        (*lead, n),
        lambda *i: te.sum(xa(*i[:-1], r).astype("int32")
                          * packed[i[-1] // lanes, r // g, i[-1] % lanes, r % g].astype("int32"), axis=r),
        name="int8_dot", attrs={BLOCK_ATTR: scheme.name})


def pack(mod, target):
    """`mod` with its int8 constant-weight matmuls and convs on the target's packed kernels (int8_conv.py
    for convs; depthwise convs get their widening kernel on any CPU, the rest need a dot-product scheme)."""
    from tvm import relax

    if target.kind.name != "llvm":
        return mod
    scheme = scheme_for(target)

    @relax.expr_functor.mutator
    class Pack(relax.PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            op = getattr(call.op, "name", "")
            if op == "relax.nn.conv2d":
                new = int8_conv.rewrite(self.builder_, call, constant_weight(self, call.args[1]), scheme)
                return call if new is None else new
            if op != "relax.matmul" or str(call.attrs.out_dtype) != "int32" or scheme is None:
                return call
            w, x = constant_weight(self, call.args[1]), call.args[0]
            x_dtype = str(x.ty.dtype)
            if w is None or w.ndim != 2 or w.dtype != np.int8 or x_dtype not in ("int8", "uint8") \
                    or not fits(*w.shape, scheme) or any(not isinstance(d, int) and not hasattr(d, "value") for d in x.ty.shape):
                return call
            # vpdpbusd reads u8, sdot s8: the kernel reads x + shift; sum (x + s) w = sum x w + s * colsum
            shift = {("uint8", "int8"): 128, ("int8", "uint8"): -128}.get((scheme.a_dtype, x_dtype), 0)
            out = self.builder_.call_te(lambda xt, wt: kernel(xt, wt, shift, scheme), x,
                                        relax.const(pack_weight(w, scheme)), primfunc_name_hint="int8_dot")
            if not shift:
                return out
            colsum = w.astype(np.int64).sum(axis=0).astype(np.int32)
            return relax.op.subtract(out, relax.const((shift * colsum).astype(np.int32)))

    return rewrite_functions(mod, Pack(mod))
