"""ONNX Gather with one constant index (x[:, 3] in PyTorch) rewritten as Slice + Squeeze, before import.

TVM 0.27's importer turns a scalar Gather index into shape arithmetic (shape_of, take, less, add,
where) that FoldConstant then evaluates by compiling and running a kernel per operation: on a
6-layer transformer with per-head Gathers that was ~60 s of FoldConstant and the same again in the
importer, for what is a static slice. Same values; only ranks that shape inference knows.
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph


def rewrite(model):
    """`model` (not modified) with every constant-scalar-index Gather of known rank as Slice + Squeeze."""
    import onnx

    constants = onnx_graph.constants(model)
    candidates = [n for n in model.graph.node if n.op_type == "Gather" and n.domain in ("", "ai.onnx")
                  and n.input[1] in constants and constants[n.input[1]].ndim == 0]
    opset = onnx_graph.opset(model)
    if not candidates or opset < 13:  # Slice and Squeeze take their axes as inputs from opset 13
        return model
    shapes = onnx_graph.shapes(model)
    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes, added = [], []
    for node in model.graph.node:
        shape = shapes.get(node.input[0]) if node.op_type == "Gather" else None
        index = constants.get(node.input[1]) if node.op_type == "Gather" and len(node.input) > 1 else None
        if shape is None or index is None or index.ndim or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0) % len(shape)
        k = int(index)
        if k < 0:
            if shape[axis] <= 0:
                nodes.append(node)
                continue
            k += shape[axis]
        base = f"{node.output[0]}__slice"
        for suffix, value in (("s", k), ("e", k + 1), ("a", axis)):
            added.append(onnx.numpy_helper.from_array(np.array([value], np.int64), f"{base}_{suffix}"))
        nodes.append(onnx.helper.make_node("Slice", [node.input[0], f"{base}_s", f"{base}_e", f"{base}_a"], [base],
                                           name=base))
        nodes.append(onnx.helper.make_node("Squeeze", [base, f"{base}_a"], [node.output[0]], name=node.name or base + "q"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(added)
    return model

