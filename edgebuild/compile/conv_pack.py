"""Float convolutions read their constant weight packed for the micro-kernel, on CPUs.

The gemm rule's micro-kernel (schedule/gemm.py) loads, per reduction step, `vec` adjacent output
channels of the weight. In HWIO the next step's are Cout floats further on, so each step touches a
new cache line, and from Cout = 1024 a new page. Packed at build time as [Cout/vec, KH, KW, Cin, vec]
a tile's weight stream is contiguous, as MLAS lays out its packed B. Measured here (kernel alone,
2 threads, AVX2, 2026-11-29): 7x7x256 3x3 conv 20 -> 36 GMAC/s, 7x7 256->1024 1x1 15 -> 29,
14x14 128->512 1x1 28 -> 42. Grouped convs and channel counts that are not whole vectors keep HWIO.
"""

from __future__ import annotations

import numpy as np

from .const_weight import rewrite_functions


def pack_weight(w: np.ndarray, vec: int) -> np.ndarray:
    """HWIO [KH, KW, Cin, Cout] -> [Cout/vec, KH, KW, Cin, vec]."""
    kh, kw, cin, cout = w.shape
    return np.ascontiguousarray(w.reshape(kh, kw, cin, cout // vec, vec).transpose(3, 0, 1, 2, 4))


def conv_kernel(x, packed, strides, padding, dilation, out_dtype: str):
    """TE: NHWC conv2d reading the packed weight; zero padding as a separate `pad_temp` copy, as TOPI's."""
    from tvm import te, tirx

    _, h, w, cin = (int(d) for d in x.shape)
    blocks, kh, kw, _, vec = (int(d) for d in packed.shape)
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = strides, dilation, padding
    if any(padding):
        x = te.compute((int(x.shape[0]), h + pt + pb, w + pl + pr, cin),
                       lambda n, i, j, c: tirx.if_then_else(tirx.all(i >= pt, i < pt + h, j >= pl, j < pl + w),
                                                            x[n, i - pt, j - pl, c], tirx.const(0, x.dtype)),
                       name="pad_temp")
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    rh, rw, rc = te.reduce_axis((0, kh), "ry"), te.reduce_axis((0, kw), "rx"), te.reduce_axis((0, cin), "rc")
    return te.compute(
        (int(x.shape[0]), oh, ow, blocks * vec),
        lambda n, i, j, co: te.sum(x[n, i * sh + rh * dh, j * sw + rw * dw, rc].astype(out_dtype)
                                   * packed[co // vec, rh, rw, rc, co % vec].astype(out_dtype), axis=[rh, rw, rc]),
        name="conv2d_nhwc")


def pack(mod, vec: int):
    """`mod` with every ungrouped NHWC/HWIO float conv2d whose weight is a constant with whole vectors of
    output channels computed by `conv_kernel` on its packed weight."""
    from tvm import relax
    from tvm.ir.expr import Constant

    @relax.expr_functor.mutator
    class Pack(relax.PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if getattr(call.op, "name", "") != "relax.nn.conv2d":
                return call
            attrs, x, weight = call.attrs, call.args[0], call.args[1]
            if isinstance(weight, relax.Var):
                weight = self.lookup_binding(weight)
            dtype = str(x.ty.dtype)
            out_dtype = dtype if str(attrs.out_dtype) in ("", "void", "None") else str(attrs.out_dtype)
            if (not isinstance(weight, Constant) or int(attrs.groups) != 1 or attrs.data_layout != "NHWC"
                    or attrs.kernel_layout != "HWIO" or attrs.out_layout != "NHWC" or not dtype.startswith("float")
                    or str(weight.ty.dtype) != dtype or not out_dtype.startswith("float")
                    or any(not isinstance(d, int) and not hasattr(d, "value") for d in x.ty.shape)):
                return call
            w = weight.value.numpy()
            if w.ndim != 4 or w.shape[3] % vec:
                return call
            geometry = dict(strides=tuple(int(s) for s in attrs.strides), padding=tuple(int(p) for p in attrs.padding),
                            dilation=tuple(int(d) for d in attrs.dilation))
            return self.builder_.call_te(lambda xt, wt: conv_kernel(xt, wt, out_dtype=out_dtype, **geometry), x,
                                         relax.const(pack_weight(w, vec)), primfunc_name_hint="conv2d")

    return rewrite_functions(mod, Pack(mod))
