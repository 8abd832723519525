"""What the ONNX rewrites before import need to know of a graph: tensor shapes and constants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def shapes(model) -> dict[str, tuple[int, ...]]:
    """Shape by tensor name (-1 for a dim that is not static) wherever shape inference knows the rank."""
    import onnx

    return _shapes(onnx.shape_inference.infer_shapes(model), model)


def _shapes(inferred, model) -> dict[str, tuple[int, ...]]:
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


def opset(model) -> int:
    """The model's default-domain opset."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


@dataclass(frozen=True)
class Graph:
    """What a lowering of one node may read of its graph."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, int]  # TensorProto element type by tensor name, where inference knows it
    constants: dict[str, np.ndarray]
    opset: int

    def static_shape(self, name: str) -> tuple[int, ...] | None:
        shape = self.shapes.get(name)
        return shape if shape is not None and min(shape, default=0) >= 0 else None


class Emit:
    """The nodes and initializers that replace one node, named after its first output so they are unique."""

    def __init__(self, node, opset: int):
        self.base, self.opset = f"{node.output[0]}__{node.op_type.lower()}", opset
        self.label = f"{node.name or node.output[0]}__{node.op_type.lower()}"  # error messages name the node
        self.nodes: list = []
        self.tensors: list = []

    def const(self, value) -> str:
        from onnx import numpy_helper

        name = f"{self.base}_c{len(self.tensors)}"
        self.tensors.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def __call__(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        from onnx import helper

        out = out or f"{self.base}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=f"{self.label}_{len(self.nodes)}", **attrs))
        return out

    def clone(self, node, inputs, outputs, drop: tuple[str, ...] = ()) -> None:
        """A copy of `node` (its attributes but those in `drop`) on other inputs and outputs."""
        from onnx import helper

        copy = helper.make_node(node.op_type, list(inputs), list(outputs), name=f"{self.label}_{len(self.nodes)}")
        copy.attribute.extend(a for a in node.attribute if a.name not in drop)
        self.nodes.append(copy)

    def reduce(self, op_type: str, x: str, axes, keepdims: int = 1, out: str | None = None) -> str:
        """Reduce* over `axes`: an attribute before opset 18 (ReduceSum: 13), an input from then on."""
        if self.opset >= (13 if op_type == "ReduceSum" else 18):
            return self(op_type, x, self.const(np.array(axes, np.int64)), out=out, keepdims=keepdims)
        return self(op_type, x, out=out, axes=list(axes), keepdims=keepdims)


def attributes(node) -> dict:
    """A node's attributes as Python values, strings decoded."""
    import onnx

    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def infer(model) -> Graph:
    """Shapes, element types and constants of `model`, from one shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    dtypes = {v.name: v.type.tensor_type.elem_type for v in
              [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]
              if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type}
    dtypes.update({t.name: t.data_type for t in model.graph.initializer})
    return Graph(_shapes(inferred, model), dtypes, constants(model), opset(model))


def rewrite(model, lowerings: dict):
    """`model` (not modified) with each default-domain node whose op_type `lowerings` names replaced by
    what its lowering emits (lowering(node, graph) -> Emit, or None to keep the node)."""
    import onnx

    if not any(n.op_type in lowerings and n.domain in ("", "ai.onnx") for n in model.graph.node):
        return model
    graph = infer(model)
    emitted = [lowerings[n.op_type](n, graph) if n.op_type in lowerings and n.domain in ("", "ai.onnx") else None
               for n in model.graph.node]
    if all(e is None for e in emitted):
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes = [m for n, e in zip(model.graph.node, emitted) for m in ([n] if e is None else e.nodes)]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(t for e in emitted if e is not None for t in e.tensors)
    return model
