"""Float convolutions and matmuls read their constant weight packed for the micro-kernel, on CPUs.

The gemm rule's micro-kernel (schedule/gemm.py) loads, per reduction step, `vec` adjacent output
channels of the weight. In HWIO (or a [K, N] matmul weight) the next step's are Cout floats further
on, so each step touches a new cache line, and from Cout = 1024 a new page. Packed at build time
as [Cout/vec, KH, KW, Cin, vec] ([N/vec, K, vec]) a tile's weight stream is contiguous, as MLAS lays
out its packed B. Measured here (kernel alone, 2 threads, AVX2, 2026-11-29): 7x7x256 3x3 conv 20 ->
36 GMAC/s, 7x7 256->1024 1x1 15 -> 29, 14x14 128->512 1x1 28 -> 42. Grouped convs and output
widths that are not whole vectors keep their layout; int8 weights have their own packing (int8_matmul.py).
"""

from __future__ import annotations

import numpy as np

from .const_weight import constant_weight, rewrite_functions


def pack_weight(w: np.ndarray, vec: int) -> np.ndarray:
    """[..., Cout] (HWIO, or a matmul's [K, N]) -> [Cout/vec, ..., vec]."""
    blocked = w.reshape(*w.shape[:-1], w.shape[-1] // vec, vec)
    return np.ascontiguousarray(np.moveaxis(blocked, -2, 0))


def conv_kernel(x, packed, strides, padding, dilation, out_dtype: str):
    """TE: NHWC conv2d reading the packed weight; zero padding as a separate `pad_temp` copy, as TOPI's."""
    from tvm import te, tirx

    b, h, w, cin = (int(d) for d in x.shape)
    blocks, kh, kw, _, vec = (int(d) for d in packed.shape)
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = strides, dilation, padding
    if any(padding):
        x = te.compute((b, h + pt + pb, w + pl + pr, cin),
                       lambda n, i, j, c: tirx.if_then_else(tirx.all(i >= pt, i < pt + h, j >= pl, j < pl + w),
                                                            x[n, i - pt, j - pl, c], tirx.const(0, x.dtype)),
                       name="pad_temp")
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    rh, rw, rc = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx"), te.reduce_axis((0, cin), "rc")
    return te.compute(
        (b, oh, ow, blocks * vec),
        lambda n, i, j, co: te.sum(x[n, i * sh + rh * dh, j * sw + rw * dw, rc].astype(out_dtype)
                                   * packed[co // vec, rh, rw, rc, co % vec].astype(out_dtype), axis=[rh, rw, rc]),
        name="conv2d_nhwc")


def matmul_kernel(x, packed, out_dtype: str):
    """TE: x [..., K] @ the packed [K, N] weight."""
    from tvm import te

    blocks, k, vec = (int(d) for d in packed.shape)
    r = te.reduce_axis((0, k), "k")
    return te.compute(
        (*(int(d) for d in x.shape[:-1]), blocks * vec),
        lambda *i: te.sum(x(*i[:-1], r).astype(out_dtype) * packed[i[-1] // vec, r, i[-1] % vec].astype(out_dtype),
                          axis=r),
        name="matmul")


def pack(mod, vec: int):
    """`mod` with every ungrouped NHWC/HWIO float conv2d, and every float matmul by a 2-D weight, whose weight
    is a constant with whole vectors of output channels computed on its packed weight."""
    from tvm import relax

    @relax.expr_functor.mutator
    class Pack(relax.PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            op = getattr(call.op, "name", "")
            if op not in ("relax.nn.conv2d", "relax.matmul"):
                return call
            x, attrs = call.args[0], call.attrs
            dtype = str(x.ty.dtype)
            out_dtype = dtype if str(attrs.out_dtype) in ("", "void", "None") else str(attrs.out_dtype)
            w = constant_weight(self, call.args[1])  # a transposed constant too (Gemm with transB)
            if (w is None or str(w.dtype) != dtype or not dtype.startswith("float") or not out_dtype.startswith("float")
                    or w.shape[-1] % vec or any(not isinstance(d, int) and not hasattr(d, "value") for d in x.ty.shape)):
                return call
            if op == "relax.matmul":
                if w.ndim != 2 or len(x.ty.shape) < 2:
                    return call
                return self.builder_.call_te(lambda xt, wt: matmul_kernel(xt, wt, out_dtype), x,
                                             relax.const(pack_weight(w, vec)), primfunc_name_hint="matmul")
            if (int(attrs.groups) != 1 or attrs.data_layout != "NHWC" or attrs.kernel_layout != "HWIO"
                    or attrs.out_layout != "NHWC" or w.ndim != 4):
                return call
            geometry = dict(strides=tuple(int(s) for s in attrs.strides), padding=tuple(int(p) for p in attrs.padding),
                            dilation=tuple(int(d) for d in attrs.dilation))
            return self.builder_.call_te(lambda xt, wt: conv_kernel(xt, wt, out_dtype=out_dtype, **geometry), x,
                                         relax.const(pack_weight(w, vec)), primfunc_name_hint="conv2d")

    return rewrite_functions(mod, Pack(mod))
