"""ONNX Pad and Split forms TVM 0.27's converters refuse, rewritten before import.

- Pad whose constant_value is a tensor computed in the graph (or a graph input), not a constant:
  the converter reads it as a constant. It becomes a zero Pad and a Where over a constant mask of
  the padded bands.
- Split into parts of which some are empty (length 0): TVM requires strictly increasing split points.
  Empty parts become empty constants; the others stay one Split.
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph


def pad(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    inputs = [*node.input, "", "", ""]
    shape = graph.static_shape(node.input[0])
    value, pads, axes = inputs[2], inputs[1], inputs[3]
    if (graph.opset < 11 or not value or value in graph.constants or shape is None or pads not in graph.constants
            or (axes and axes not in graph.constants)
            or onnx_graph.attributes(node).get("mode", "constant") != "constant"):
        return None
    r = len(shape)
    given = graph.constants[pads].reshape(-1).tolist()
    chosen = [a % r for a in graph.constants[axes].reshape(-1).tolist()] if axes else list(range(r))
    begin, end = [0] * r, [0] * r
    for i, a in enumerate(chosen):
        begin[a], end[a] = given[i], given[len(chosen) + i]
    out_shape = [d + b + e for d, b, e in zip(shape, begin, end)]
    mask = np.zeros(out_shape, bool)
    for a in range(r):  # the bands the pads add (a negative pad crops: no band)
        index = [slice(None)] * r
        index[a] = slice(0, max(begin[a], 0))
        mask[tuple(index)] = True
        index[a] = slice(out_shape[a] - max(end[a], 0), out_shape[a])
        mask[tuple(index)] = True
    emit = onnx_graph.Emit(node, graph.opset)
    zero_padded = f"{emit.base}_zero"
    emit.clone(node, [node.input[0], pads, *([""] + [axes] if axes else [])], [zero_padded])
    emit("Where", emit.const(mask), value, zero_padded, out=node.output[0])
    return emit


def split(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    import onnx

    attrs = onnx_graph.attributes(node)
    shape, dtype = graph.static_shape(node.input[0]), graph.dtypes.get(node.input[0])
    if len(node.input) > 1 and node.input[1]:
        sizes = graph.constants.get(node.input[1])
    else:
        sizes = np.array(attrs["split"]) if "split" in attrs else None
    if sizes is None or shape is None or dtype is None or 0 not in sizes.tolist() or graph.opset < 13:
        return None
    axis = attrs.get("axis", 0) % len(shape)
    emit = onnx_graph.Emit(node, graph.opset)
    kept = [(n, out) for n, out in zip(sizes.tolist(), node.output) if n]
    for n, out in zip(sizes.tolist(), node.output):
        if not n and out:
            empty = [0 if a == axis else d for a, d in enumerate(shape)]
            emit("Identity", emit.const(np.zeros(empty, onnx.helper.tensor_dtype_to_np_dtype(dtype))), out=out)
    if len(kept) == 1:
        emit("Identity", node.input[0], out=kept[0][1])
    elif kept:
        emit.clone(node, [node.input[0], emit.const(np.array([n for n, _ in kept], np.int64))],
                   [out for _, out in kept], drop=("split", "num_outputs"))
    return emit
