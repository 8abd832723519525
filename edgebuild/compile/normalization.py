"""ONNX normalizations' outputs that TVM 0.27's converters do not compute, as ONNX nodes before import.

LayerNormalization's Mean and InvStdDev outputs: TVM's converter returns 0-d placeholders for them.
BatchNormalization with training_mode=1 normalizes with the batch's own statistics and outputs the
running mean and variance (momentum-blended); TVM's converter uses the given mean and variance.
Both keep the normalization itself as the same operator in inference form (TVM's fast kernel) and
add the statistics as reductions.
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph

FLOAT = 1  # TensorProto.FLOAT


def layer_normalization(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    """Y by LayerNormalization itself; Mean and InvStdDev (ONNX's stash type: float32) by reductions."""
    shape = graph.shapes.get(node.input[0])
    if len(node.output) < 2 or not any(node.output[1:]) or shape is None:
        return None
    attrs = onnx_graph.attributes(node)
    rank = len(shape)
    axes = list(range(attrs.get("axis", -1) % rank, rank))
    emit = onnx_graph.Emit(node, graph.opset)
    if node.output[0]:
        emit.clone(node, node.input, [node.output[0]])
    x = node.input[0]
    if graph.dtypes.get(x) != FLOAT:
        x = emit("Cast", x, to=FLOAT)
    outputs = [*node.output[1:3], "", ""][:2]
    wanted = [o and graph.dtypes.get(o, FLOAT) for o in outputs]  # the declared type, when known

    def result(value: str, i: int) -> None:
        if outputs[i]:
            emit("Identity" if wanted[i] == FLOAT else "Cast", value, out=outputs[i],
                 **({} if wanted[i] == FLOAT else {"to": wanted[i]}))

    mean = emit.reduce("ReduceMean", x, axes)
    result(mean, 0)
    centred = emit("Sub", x, mean)
    variance = emit.reduce("ReduceMean", emit("Mul", centred, centred), axes)
    epsilon = emit.const(np.float32(attrs.get("epsilon", 1e-5)))
    result(emit("Reciprocal", emit("Sqrt", emit("Add", variance, epsilon))), 1)
    return emit


def batch_normalization(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    """training_mode=1 (opset >= 14): the batch's mean and (population) variance over all axes but 1."""
    import onnx

    attrs = onnx_graph.attributes(node)
    shape, dtype = graph.shapes.get(node.input[0]), graph.dtypes.get(node.input[0])
    if graph.opset < 14 or not attrs.get("training_mode", 0) or shape is None or dtype is None:
        return None
    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(dtype)
    axes = [0, *range(2, len(shape))]
    emit = onnx_graph.Emit(node, graph.opset)
    x = node.input[0]
    mean_kept = emit.reduce("ReduceMean", x, axes)
    centred = emit("Sub", x, mean_kept)
    flat = emit.const(np.array([-1], np.int64))
    mean = emit("Reshape", mean_kept, flat)
    variance = emit("Reshape", emit.reduce("ReduceMean", emit("Mul", centred, centred), axes), flat)
    emit.clone(node, [*node.input[:3], mean, variance], node.output[:1], drop=("training_mode", "momentum"))
    momentum = float(attrs.get("momentum", 0.9))
    kept, taken = emit.const(np.array(momentum, np_dtype)), emit.const(np.array(1 - momentum, np_dtype))
    for given, batch, out in zip(node.input[3:5], (mean, variance), [*node.output[1:3], "", ""][:2]):
        if out:
            emit("Add", emit("Mul", given, kept), emit("Mul", batch, taken), out=out)
    return emit
