"""int8 x int8 -> int32 NHWC convolutions with constant weights, rewritten for the target's int8 kernels.

Regular and grouped convs (any kernel size, stride, dilation, padding) become one TE kernel that reads
the activations in place (no im2col) and the weight packed at build time as
[Cout/lanes, KH, KW, Cin/group, lanes, group]: each (kh, kw, Cin-group) step is the same
micro-kernel step as the packed matmul's (int8_matmul.py, int8_intrin.py), so the int8 rule
(schedule/int8.py) tensorizes both. Padding, the operand conversion (int16 widening or the 128
shift, corrected with the weight's sums exactly as for matmuls) and Cin padded to whole groups are
one operand pass; Cout is padded to whole lanes with zero weights and sliced off after. A grouped
conv (1 < groups < Cin) pads each conv group's Cin and Cout the same way and lays the groups side by
side: an output channel's lane block lies in one conv group, whose input channels it reads.

Depthwise convs (groups == Cin) get no dot product: a channel's taps are not contiguous in NHWC,
so each tap is a widening multiply (int8 x int8 -> int16, exact, also for uint8 activations) added
into int32 accumulators vectorised over channels (x86 vpmullw, ARM smull); the gemm rule tiles it.
"""

from __future__ import annotations

import numpy as np

from .int8_intrin import BLOCK_ATTR, for_weight, operand_shift

DW_ATTR = "edgebuild_int8_dw"


def _ceil(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def pack_weight(w: np.ndarray, scheme, cin_p: int, cout_p: int, groups: int = 1) -> np.ndarray:
    """HWIO int8 [KH, KW, Cin/groups, Cout] -> [groups * Cout_p/lanes, KH, KW, Cin_p/group, lanes, group], each
    conv group's Cin and Cout zero-padded to cin_p and cout_p."""
    kh, kw, cin, cout = w.shape
    w = w.reshape(kh, kw, cin, groups, cout // groups)
    w = np.pad(w, ((0, 0), (0, 0), (0, cin_p - cin), (0, 0), (0, cout_p - cout // groups)))
    w = w.reshape(kh, kw, cin_p, groups * cout_p)
    g, lanes = scheme.group, scheme.lanes
    return np.ascontiguousarray(w.reshape(kh, kw, cin_p // g, g, -1, lanes).transpose(4, 0, 1, 2, 5, 3))


def _geometry(x_shape, kernel, strides, padding, dilation):
    _, h, w, _ = x_shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    pt, pl, pb, pr = padding
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


def _operand(x, padding, channels: int, fill, convert, name: str, groups: int = 1):
    """x padded spatially (with `fill`) and each of its `groups` channel groups to channels / groups, each value
    passed through `convert`; x itself when there is nothing to do."""
    from tvm import te, tirx

    b, h, w, c = (int(d) for d in x.shape)
    pt, pl, pb, pr = padding
    if not any(padding) and channels == c and convert is None:
        return x
    convert = convert or (lambda v: v)
    per, per_p = c // groups, channels // groups

    def value(n, i, j, k):
        src = k if groups == 1 else k // per_p * per + k % per_p
        inside = tirx.all(i >= pt, i < pt + h, j >= pl, j < pl + w, k % per_p < per if groups > 1 else k < c)
        return tirx.if_then_else(inside, convert(x[n, i - pt, j - pl, src]), fill)

    return te.compute((b, h + pt + pb, w + pl + pr, channels), value, name=name)


def conv_kernel(x, packed, shift: int, scheme, strides, padding, dilation, groups: int = 1):
    """TE: out[b, oh, ow, co] = sum over (kh, kw, ci) of operand(x) * packed weight (int32); with groups, ci
    runs over the conv group of co."""
    from tvm import te, tirx

    co_blocks, kh, kw, cgroups, lanes, g = (int(d) for d in packed.shape)
    cout_p = co_blocks * lanes // groups
    oh, ow = _geometry(x.shape, (kh, kw), strides, padding, dilation)
    a_dtype, convert = scheme.a_dtype, None
    if str(x.dtype) != a_dtype or shift:
        def convert(v):
            return (v.astype("int32") + shift).astype(a_dtype) if shift else v.astype(a_dtype)
    xa = _operand(x, padding, groups * cgroups * g, tirx.const(shift, a_dtype), convert, "int8_operand", groups)
    rh, rw = te.reduce_axis((0, kh), "kh"), te.reduce_axis((0, kw), "kw")
    rc = te.reduce_axis((0, cgroups * g), "ci")
    (sh, sw), (dh, dw) = strides, dilation
    return te.compute(
        (int(x.shape[0]), oh, ow, co_blocks * lanes),
        lambda n, i, j, co: te.sum(
            xa[n, i * sh + rh * dh, j * sw + rw * dw, rc if groups == 1 else co // cout_p * (cgroups * g) + rc]
            .astype("int32")
            * packed[co // lanes, rh, rw, rc // g, co % lanes, rc % g].astype("int32"), axis=[rh, rw, rc]),
        name="int8_dot", attrs={BLOCK_ATTR: scheme.name})


def depthwise_kernel(x, w, strides, padding, dilation):
    """TE: out[b, oh, ow, c] = sum over (kh, kw) of int32(int16(x[.., c // mult]) * int16(w[kh, kw, c]))."""
    from tvm import te, tirx

    kh, kw, channels = (int(d) for d in w.shape)
    mult = channels // int(x.shape[3])
    oh, ow = _geometry(x.shape, (kh, kw), strides, padding, dilation)
    xa = _operand(x, padding, int(x.shape[3]), tirx.const(0, str(x.dtype)), None, "int8_pad")
    rh, rw = te.reduce_axis((0, kh), "kh"), te.reduce_axis((0, kw), "kw")
    (sh, sw), (dh, dw) = strides, dilation
    return te.compute(
        (int(x.shape[0]), oh, ow, channels),
        lambda n, i, j, c: te.sum(
            (xa[n, i * sh + rh * dh, j * sw + rw * dw, c // mult].astype("int16")
             * w[rh, rw, c].astype("int16")).astype("int32"), axis=[rh, rw]),
        name="int8_dw", attrs={DW_ATTR: 1})


def rewrite(builder, call, weight: np.ndarray | None, scheme):
    """The int8 kernel replacing a conv2d call, or None when it is not an int8 NHWC conv with a constant
    int8 weight (or, without a dot-product scheme, not depthwise)."""
    from tvm import relax

    attrs, x = call.attrs, call.args[0]
    x_dtype = str(x.ty.dtype)
    if (str(attrs.out_dtype) != "int32" or x_dtype not in ("int8", "uint8") or weight is None
            or weight.dtype != np.int8 or weight.ndim != 4 or attrs.data_layout != "NHWC"
            or attrs.kernel_layout != "HWIO" or attrs.out_layout != "NHWC"
            or any(not hasattr(d, "value") and not isinstance(d, int) for d in x.ty.shape)):
        return None
    geometry = dict(strides=tuple(int(s) for s in attrs.strides), padding=tuple(int(p) for p in attrs.padding),
                    dilation=tuple(int(d) for d in attrs.dilation))
    cin, cout, groups = int(x.ty.shape[3]), weight.shape[3], int(attrs.groups)
    if groups == cin and weight.shape[2] == 1 and groups > 1:
        return builder.call_te(lambda xt, wt: depthwise_kernel(xt, wt, **geometry), x,
                               relax.const(np.ascontiguousarray(weight[:, :, 0, :])), primfunc_name_hint="int8_dw")
    if scheme is None or cin % groups or cout % groups:
        return None
    scheme = for_weight(scheme, weight, axis=2)  # HWIO, reduced along Cin in groups
    cin_p, cout_p = _ceil(cin // groups, scheme.group), _ceil(cout // groups, scheme.lanes)
    shift = operand_shift(scheme, x_dtype)
    packed = pack_weight(weight, scheme, cin_p, cout_p, groups)
    out = builder.call_te(lambda xt, wt: conv_kernel(xt, wt, shift, scheme, groups=groups, **geometry), x,
                          relax.const(packed), primfunc_name_hint="int8_conv")
    if shift:  # sum (x + s) w = sum x w + s * (sum of w over every tap, padding included)
        wsum = packed.astype(np.int64).sum(axis=(1, 2, 3, 5)).reshape(-1)
        out = relax.op.subtract(out, relax.const((shift * wsum).astype(np.int32)))
    if groups == 1 and cout_p != cout:
        out = relax.op.strided_slice(out, [3], [0], [cout])
    elif cout_p * groups != cout:  # each conv group's padded lanes sliced off
        b, oh, ow, _ = (int(d) for d in builder.normalize(out).ty.shape)
        grouped = relax.op.reshape(out, (b, oh, ow, groups, cout_p))
        out = relax.op.reshape(relax.op.strided_slice(grouped, [4], [0], [cout // groups]), (b, oh, ow, cout))
    return out
