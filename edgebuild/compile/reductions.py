"""ONNX reductions TVM 0.27 computes wrongly or not at all, rewritten before import.

- Over an empty axis (a static 0-length dim) a reduction is its identity: 0 for sums, 1 for a
  product, -inf/+inf (the type's lowest/highest) for max/min, -inf for the log-sums; TVM's kernels
  leave such outputs unwritten. The node becomes that constant.
- ReduceMax/ReduceMin on bool (opset 20): TVM has no min/max value for bool; they run on uint8.
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph

OPS = ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
       "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
BOOL, UINT8 = 9, 2  # TensorProto element types


def lower(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    axes = _axes(node, graph)
    shape = graph.static_shape(node.input[0])
    dtype = graph.dtypes.get(node.input[0])
    if axes is None or shape is None or dtype is None:
        return None
    if any(shape[a] == 0 for a in axes):
        return _empty(node, graph, shape, axes, dtype)
    if dtype == BOOL and node.op_type in ("ReduceMax", "ReduceMin"):
        emit = onnx_graph.Emit(node, graph.opset)
        reduced = f"{emit.base}_u8"
        emit.clone(node, [emit("Cast", node.input[0], to=UINT8), *node.input[1:]], [reduced])
        emit("Cast", reduced, to=BOOL, out=node.output[0])
        return emit
    return None


def _axes(node, graph) -> list[int] | None:
    """The reduced axes (non-negative), or None when they are not constant or the rank is unknown."""
    shape = graph.shapes.get(node.input[0])
    attrs = onnx_graph.attributes(node)
    if shape is None:
        return None
    if len(node.input) > 1 and node.input[1]:
        if node.input[1] not in graph.constants:
            return None
        axes = graph.constants[node.input[1]].reshape(-1).tolist()
    else:
        axes = attrs.get("axes", [])
    if not axes:
        return [] if attrs.get("noop_with_empty_axes", 0) else list(range(len(shape)))
    return sorted(a % len(shape) for a in axes)


def _empty(node, graph, shape, axes, dtype) -> onnx_graph.Emit:
    import onnx

    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(dtype)
    low, high = ((-np.inf, np.inf) if np.issubdtype(np_dtype, np.floating) else
                 (False, True) if np_dtype == np.bool_ else (np.iinfo(np_dtype).min, np.iinfo(np_dtype).max))
    identity = {"ReduceProd": 1, "ReduceMax": low, "ReduceMin": high, "ReduceLogSum": -np.inf,
                "ReduceLogSumExp": -np.inf, "ReduceMean": np.nan}.get(node.op_type, 0)
    keep = onnx_graph.attributes(node).get("keepdims", 1)
    out_shape = [1 if a in axes else d for a, d in enumerate(shape) if keep or a not in axes]
    emit = onnx_graph.Emit(node, graph.opset)
    emit("Identity", emit.const(np.full(out_shape, identity, np_dtype)), out=node.output[0])
    return emit
