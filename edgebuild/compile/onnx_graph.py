"""What the ONNX rewrites before import need to know of a graph: tensor shapes and constants."""

from __future__ import annotations

import numpy as np


def shapes(model) -> dict[str, tuple[int, ...]]:
    """Shape by tensor name (-1 for a dim that is not static) wherever shape inference knows the rank."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    found = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        if value.type.tensor_type.HasField("shape"):
            found[value.name] = tuple(d.dim_value if d.HasField("dim_value") else -1
                                      for d in value.type.tensor_type.shape.dim)
    for t in model.graph.initializer:
        found[t.name] = tuple(t.dims)
    return found


def constants(model) -> dict[str, np.ndarray]:
    """Initializers and Constant-node outputs, as arrays."""
    import onnx

    found = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            found[n.output[0]] = onnx.numpy_helper.to_array(n.attribute[0].t)
    return found
