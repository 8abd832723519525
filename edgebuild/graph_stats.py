"""Size and work of an ONNX graph: parameter count, weight bytes and multiply-accumulates."""

from __future__ import annotations

import math
from pathlib import Path


def stats(path: Path) -> dict[str, int]:
    """params, weight_bytes and MACs (Conv, ConvTranspose, MatMul, Gemm) of a static-shape graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    shapes = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        shapes[value.name] = dims
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)

    params = sum(math.prod(i.dims) for i in graph.initializer)
    weight_bytes = sum(numpy_helper.to_array(i).nbytes for i in graph.initializer)
    macs = 0
    for node in graph.node:
        out = shapes.get(node.output[0]) if node.output else None
        if not out and node.op_type == "QGemm":  # a com.microsoft op: ONNX shape inference leaves it unknown
            out = _gemm_out(node, shapes)
        if not out or not all(out):
            continue
        if node.op_type in ("Conv", "QLinearConv", "ConvInteger"):
            w = node.input[3 if node.op_type == "QLinearConv" else 1]  # W: [M, C/group, kH, kW]
            macs += math.prod(out) * math.prod(shapes[w][1:]) if w in shapes else 0
        elif node.op_type == "ConvTranspose" and node.input[1] in shapes:
            # W: [C, M/group, kH, kW]; every input element feeds M/group*kH*kW outputs
            macs += math.prod(shapes.get(node.input[0], [0])) * math.prod(shapes[node.input[1]][1:])
        elif node.op_type in ("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "QGemm") and node.input[0] in shapes:
            a = shapes[node.input[0]]
            k = a[0] if node.op_type in ("Gemm", "QGemm") and _attr(node, "transA") else a[-1]
            macs += math.prod(out) * k
    return {"params": int(params), "weight_bytes": int(weight_bytes), "macs": int(macs)}


def _attr(node, name: str) -> int:
    return next((a.i for a in node.attribute if a.name == name), 0)


def _gemm_out(node, shapes) -> list[int] | None:
    """[M, N] of a Gemm-like node (A, B at inputs 0 and 3 for QGemm) from its inputs' shapes."""
    a, b = shapes.get(node.input[0]), shapes.get(node.input[3])
    if not a or not b or len(a) != 2 or len(b) != 2:
        return None
    return [a[1] if _attr(node, "transA") else a[0], b[0] if _attr(node, "transB") else b[1]]
