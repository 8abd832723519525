"""ONNX SpaceToDepth in CRD mode (opset 28) as Reshape/Transpose/Reshape, before import: TVM 0.27's
converter ignores `mode` and always orders the output channels DCR (block offset major)."""

from __future__ import annotations

import numpy as np

from . import onnx_graph


def space_to_depth(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    attrs = onnx_graph.attributes(node)
    shape = graph.static_shape(node.input[0])
    if attrs.get("mode", "DCR") != "CRD" or shape is None or len(shape) != 4:
        return None
    n, c, h, w = shape
    b = attrs["blocksize"]
    emit = onnx_graph.Emit(node, graph.opset)
    blocks = emit("Reshape", node.input[0], emit.const(np.array([n, c, h // b, b, w // b, b], np.int64)))
    # output channel c * b * b + by * b + bx
    moved = emit("Transpose", blocks, perm=[0, 1, 3, 5, 2, 4])
    emit("Reshape", moved, emit.const(np.array([n, c * b * b, h // b, w // b], np.int64)), out=node.output[0])
    return emit
