"""int8 x int8 -> int32 matmuls with constant weights, rewritten for the target's dot-product kernel.

`pack(mod, target)` replaces every `matmul(x, W, out_dtype="int32")` where x is int8/uint8 and W a
constant int8 K x N matrix (as qlinear.py lowers QGemm, QLinearMatMul and MatMulInteger, and as any
other int8 lowering produces them) by one TE kernel that reads W packed at build time as
[N/lanes, K/group, lanes, group] (int8_intrin.py), the layout the micro-kernel loads as one vector.
Activations are converted once per kernel to what the instruction reads: to int16 (x86 vpmaddwd,
exact for both signs), or shifted by 128 between uint8 and int8 (vpdpbusd is u8 x s8, sdot and AVX2's
sign-trick kernel s8 x s8; a weight that kernel cannot take gets its fallback, int8_intrin.for_weight),
the shift corrected exactly with the weight's column sums. The result is the same int32 as the matmul.
The MAC block carries the scheme's name (block attribute BLOCK_ATTR) for the schedule rule
(schedule/int8.py). An int8 matmul of two activations (attention in QOperator/QDQ transformers) gets
the same kernel with its right operand packed at run time, one pass per call, per batch entry.
"""

from __future__ import annotations

import numpy as np

from . import int8_conv
from .int8_intrin import BLOCK_ATTR, Scheme, for_weight, operand_shift, scheme_for
from .const_weight import constant_weight, rewrite_functions


def pack_weight(w: np.ndarray, scheme: Scheme) -> np.ndarray:
    """K x N int8 -> [N/lanes, K/group, lanes, group]."""
    k, n = w.shape
    g, lanes = scheme.group, scheme.lanes
    return np.ascontiguousarray(w.reshape(k // g, g, n // lanes, lanes).transpose(2, 0, 3, 1))


def fits(k: int, n: int, scheme: Scheme) -> bool:
    return k % scheme.group == 0 and n % scheme.lanes == 0


def pack_runtime(b, scheme: Scheme):
    """TE: [..., K, N] int8 -> [..., N/lanes, K/group, lanes, group], pack_weight at run time."""
    from tvm import te

    *batch, k, n = (int(d) for d in b.shape)
    lanes, g = scheme.lanes, scheme.group
    return te.compute((*batch, n // lanes, k // g, lanes, g),
                      lambda *i: b(*i[:-4], i[-3] * g + i[-1], i[-4] * lanes + i[-2]), name="int8_pack")


def kernel(x, packed, shift: int, scheme: Scheme):
    """TE: out[..., n] = sum_k convert(x[..., k]) * packed[n/lanes, k/group, n%lanes, k%group]; a packed
    operand with batch dims (pack_runtime) pairs them with x's leading dims."""
    from tvm import te

    *lead, k = (int(d) for d in x.shape)
    n = int(packed.shape[-4]) * scheme.lanes
    lanes, g = scheme.lanes, scheme.group
    batch = len(packed.shape) - 4

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
                          * packed[(*i[:batch], i[-1] // lanes, r // g, i[-1] % lanes, r % g)].astype("int32"),
                          axis=r),
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
            if x_dtype not in ("int8", "uint8") or _shape(x) is None:
                return call
            if w is not None and (w.ndim != 2 or w.dtype != np.int8):
                return call
            s = for_weight(scheme, w)
            # vpdpbusd reads u8, sdot s8: the kernel reads x + shift; sum (x + s) w = sum x w + s * colsum
            shift = operand_shift(s, x_dtype)
            if w is not None:
                if not fits(*w.shape, s):
                    return call
                out = self.builder_.call_te(lambda xt, wt: kernel(xt, wt, shift, s), x,
                                            relax.const(pack_weight(w, s)), primfunc_name_hint="int8_dot")
                colsum = relax.const(w.astype(np.int64).sum(axis=0).astype(np.int32))
            else:
                b = call.args[1]
                if not _batched_operand(_shape(x), _shape(b), str(b.ty.dtype), s):
                    return call
                out = self.builder_.call_te(lambda xt, bt: kernel(xt, pack_runtime(bt, s), shift, s), x, b,
                                            primfunc_name_hint="int8_dot")
                colsum = relax.op.sum(relax.op.astype(b, "int32"), axis=[-2], keepdims=True) if shift else None
            if not shift:
                return out
            return relax.op.subtract(out, relax.op.multiply(colsum, relax.const(np.int32(shift))))

    return rewrite_functions(mod, Pack(mod))


def _shape(expr) -> tuple[int, ...] | None:
    """expr's static shape, None when any dim is symbolic."""
    dims = getattr(expr.ty, "shape", None)
    if dims is None or any(not isinstance(d, int) and not hasattr(d, "value") for d in dims):
        return None
    return tuple(int(d) for d in dims)


def _batched_operand(x: tuple[int, ...], b: tuple[int, ...] | None, b_dtype: str, scheme: Scheme) -> bool:
    """Whether an activation right operand fits the runtime-packed kernel: int8, [..., K, N] with the
    same leading dims as x (no broadcasting) and K, N multiples of the instruction's group and lanes."""
    return b is not None and b_dtype == "int8" and len(b) == len(x) >= 2 and b[:-2] == x[:-2] \
        and b[-2] == x[-1] and fits(b[-2], b[-1], scheme)
