"""ONNX MaxPool's Indices output, which TVM 0.27's converter does not produce ("Missing outputs").

Before import: Y stays the MaxPool; Indices is the ArgMax over the kernel's taps (each tap one strided
Slice of the input padded with the lowest value, the taps stacked on a new axis; ArgMax keeps the
first maximum, as a row-major window scan does), then the flat input index of that tap: a constant
per output position (batch, channel, window origin) plus a constant per tap (a Gather).
storage_order=1 numbers the spatial positions column-major.
"""

from __future__ import annotations

import itertools

import numpy as np

from . import onnx_graph


def lower(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    import onnx

    if len(node.output) < 2 or not node.output[1] or graph.opset < 11:
        return None
    attrs = onnx_graph.attributes(node)
    shape, dtype = graph.static_shape(node.input[0]), graph.dtypes.get(node.input[0])
    if shape is None or dtype is None or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(dtype)
    n, c, spatial = shape[0], shape[1], list(shape[2:])
    d = len(spatial)
    kernel = attrs["kernel_shape"]
    strides, dilations = attrs.get("strides", [1] * d), attrs.get("dilations", [1] * d)
    pads = attrs.get("pads", [0] * 2 * d)
    begin = pads[:d]
    out_sp = [_out_len(i, k, s, dl, b, e, attrs.get("ceil_mode", 0))
              for i, k, s, dl, b, e in zip(spatial, kernel, strides, dilations, begin, pads[d:])]
    # pad the end far enough for every window (ceil_mode windows may pass the given pads)
    end = [max(0, (o - 1) * s + (k - 1) * dl + 1 - (i + b))
           for o, s, k, dl, i, b in zip(out_sp, strides, kernel, dilations, spatial, begin)]
    emit = onnx_graph.Emit(node, graph.opset)
    emit.clone(node, node.input, node.output[:1])
    lowest = np.array(-np.inf if np.issubdtype(np_dtype, np.floating) else np.iinfo(np_dtype).min, np_dtype)
    padded = emit("Pad", node.input[0], emit.const(np.array([0, 0, *begin, 0, 0, *end], np.int64)),
                  emit.const(lowest))
    axes = emit.const(np.arange(2, 2 + d, dtype=np.int64))
    steps = emit.const(np.array(strides, np.int64))
    taps = list(itertools.product(*(range(k) for k in kernel)))
    windows = []
    for tap in taps:
        first = [t * dl for t, dl in zip(tap, dilations)]
        last = [f + (o - 1) * s + 1 for f, o, s in zip(first, out_sp, strides)]
        windows.append(emit("Slice", padded, emit.const(np.array(first, np.int64)),
                            emit.const(np.array(last, np.int64)), axes, steps))
    stacked = emit("Reshape", emit("Concat", *windows, axis=1),
                   emit.const(np.array([n, len(taps), c, *out_sp], np.int64)))
    best = emit("ArgMax", stacked, axis=1, keepdims=0)
    # flat index = plane * (n * C + c) + sum_i position_i * stride_i of the (row- or column-major) plane
    place = np.cumprod([1, *spatial[::-1]])[:-1][::-1] if not attrs.get("storage_order", 0) \
        else np.cumprod([1, *spatial])[:-1]
    origin = sum(np.arange(o).reshape([-1 if j == i else 1 for j in range(d)]) * s * p - b * p
                 for i, (o, s, p, b) in enumerate(zip(out_sp, strides, place, begin)))
    base = (np.arange(n * c).reshape(n, c, *[1] * d) * int(np.prod(spatial)) + origin).astype(np.int64)
    per_tap = np.array([sum(t * dl * p for t, dl, p in zip(tap, dilations, place)) for tap in taps], np.int64)
    emit("Add", emit.const(base), emit("Gather", emit.const(per_tap), best), out=node.output[1])
    return emit


def _out_len(length: int, k: int, stride: int, dilation: int, begin: int, end: int, ceil_mode: int) -> int:
    """Output length as ONNX Runtime computes it: with ceil_mode, a last window starting in the end
    padding is dropped (ONNX's shape inference keeps it)."""
    span = length + begin + end - ((k - 1) * dilation + 1)
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    return out - 1 if ceil_mode and (out - 1) * stride >= length + begin else out
