"""QDQ graphs rewritten into the integer operators that qlinear.py lowers, before import.

ONNX Runtime's quantizer in QDQ format writes `DequantizeLinear -> Conv/MatMul/Gemm (float) ->
QuantizeLinear`, with the int8 weight behind its own DequantizeLinear. Imported as written, TVM
computes a float conv and constant folding stores the weight as float32. As ONNX Runtime does when
it runs such a graph, each group becomes QLinearConv / QLinearMatMul / QGemm (or, when the result is
not quantized again, ConvInteger / MatMulInteger / QGemm with float output plus the float scaling),
so the convolution runs on int8 and the weight stays int8. An int8 embedding table behind a
DequantizeLinear is gathered first and dequantized after. Other operators keep their
DequantizeLinear -> float -> QuantizeLinear form (correct; they carry no weights).
"""

from __future__ import annotations

import numpy as np

INTEGER_OPS = ("Conv", "MatMul", "Gemm")


class _Graph:
    def __init__(self, graph):
        from onnx import numpy_helper

        self.graph = graph
        self.inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in graph.node:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)
        self.outputs = {o.name for o in graph.output}
        self.added: list = []

    def dq(self, name, weight: bool = False):
        """The DequantizeLinear producing `name` as (node, scale, zero point) when its scale and zero
        point are initializers (and its input too, for a weight); else None."""
        node = self.producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx"):
            return None
        scale = self.inits.get(node.input[1])
        zp_name = node.input[2] if len(node.input) > 2 else ""
        if scale is None or (zp_name and zp_name not in self.inits) or (weight and node.input[0] not in self.inits):
            return None
        data = self.inits.get(node.input[0])
        dtype = data.dtype if data is not None else None
        zp = self.inits[zp_name] if zp_name else np.zeros((), dtype or np.uint8)
        return node, scale.astype(np.float32), zp

    def quantize_after(self, name):
        """The one QuantizeLinear consuming `name` (per tensor, constant parameters), else None."""
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.outputs or users[0].op_type != "QuantizeLinear":
            return None
        q = users[0]
        if len(q.input) < 3 or q.input[1] not in self.inits or q.input[2] not in self.inits or self.inits[q.input[1]].size != 1:
            return None
        return q

    def constant(self, value: np.ndarray, hint: str) -> str:
        from onnx import numpy_helper

        name = f"{hint}_edgebuild_{len(self.added)}"
        self.added.append(numpy_helper.from_array(np.asarray(value), name))
        self.inits[name] = np.asarray(value)
        return name

    def zero_point(self, dq_node, zp: np.ndarray) -> str:
        return dq_node.input[2] if len(dq_node.input) > 2 and dq_node.input[2] else self.constant(zp, dq_node.input[0] + "_zp")


def _channel_axis(node, w_shape) -> int:
    """The axis of the weight that indexes output channels."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "Gemm":
        return 0 if _attr(node, "transB", 0) else 1
    return len(w_shape) - 1


def _attr(node, name, default):
    from onnx import helper

    found = [helper.get_attribute_value(a) for a in node.attribute if a.name == name]
    return found[0] if found else default


def _per_axis_ok(dq_node, scale, axis: int, ndim: int) -> bool:
    if scale.size == 1:
        return True
    return _attr(dq_node, "axis", 1) % ndim == axis


def _bias(g: _Graph, name: str, scale: np.ndarray) -> np.ndarray | None:
    """The int32 bias in units of `scale` (x_scale * w_scale), from a DequantizeLinear of int32 or a
    float initializer; None when the bias is computed at run time."""
    found = g.dq(name, weight=True)
    if found is not None:
        node, b_scale, _ = found
        q = g.inits[node.input[0]]
        if q.dtype == np.int32 and not np.any(found[2]) and np.all(b_scale == scale):
            return q
        real = (q.astype(np.float64) - found[2]) * b_scale
    elif name in g.inits:
        real = g.inits[name].astype(np.float64)
    else:
        return None
    return np.rint(real / scale).astype(np.int32)


def _rewrite(g: _Graph, node) -> list | None:
    from onnx import TensorProto, helper

    x, w = g.dq(node.input[0]), g.dq(node.input[1], weight=node.op_type != "MatMul")
    if x is None or w is None or x[1].size != 1:
        return None
    if node.op_type == "Gemm" and (_attr(node, "transA", 0) or (len(node.input) > 2 and _attr(node, "beta", 1.0) != 1.0)):
        return None
    w_shape = g.inits[w[0].input[0]].shape if w[0].input[0] in g.inits else None
    ndim = len(w_shape) if w_shape is not None else 2
    if not _per_axis_ok(w[0], w[1], _channel_axis(node, w_shape or (0, 0)), ndim):
        return None
    (x_dq, x_scale, x_zp), (w_dq, w_scale, w_zp) = x, w
    ins = [x_dq.input[0], x_dq.input[1], g.zero_point(x_dq, x_zp), w_dq.input[0], w_dq.input[1], g.zero_point(w_dq, w_zp)]
    bias = None
    if len(node.input) > 2 and node.input[2]:
        bias = _bias(g, node.input[2], (x_scale * w_scale).astype(np.float32).reshape(-1))
        if bias is None:
            return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    q = g.quantize_after(node.output[0])
    name = node.name or node.output[0]
    if q is not None:
        out = q.output[0]
        bias_in = [g.constant(bias, name + "_bias")] if bias is not None else []
        if node.op_type == "Conv":
            return [helper.make_node("QLinearConv", ins + [q.input[1], q.input[2]] + bias_in, [out], name=name, **attrs)], q
        if node.op_type == "MatMul":
            return [helper.make_node("QLinearMatMul", ins + [q.input[1], q.input[2]], [out], name=name)], q
        return [helper.make_node("QGemm", ins + (bias_in or [""]) + [q.input[1], q.input[2]], [out], name=name,
                                 domain="com.microsoft", **attrs)], q
    # not quantized again: integer product, then float scaling (and the float bias)
    if node.op_type == "Gemm":
        bias_in = [g.constant(bias, name + "_bias")] if bias is not None else []
        return [helper.make_node("QGemm", ins + bias_in, [node.output[0]], name=name, domain="com.microsoft", **attrs)], None
    acc, real = f"{name}_int32", f"{name}_float"
    op = "ConvInteger" if node.op_type == "Conv" else "MatMulInteger"
    scale = (x_scale * w_scale).astype(np.float32)
    if node.op_type == "Conv" and scale.size > 1:
        scale = scale.reshape(-1, 1, 1)
    nodes = [helper.make_node(op, [ins[0], ins[3], ins[2], ins[5]], [acc], name=name, **attrs),
             helper.make_node("Cast", [acc], [real], to=TensorProto.FLOAT),
             helper.make_node("Mul", [real, g.constant(scale, name + "_scale")],
                              [node.output[0] if bias is None else f"{name}_scaled"])]
    if bias is not None:
        b = (bias.astype(np.float32) * (x_scale * w_scale).astype(np.float32).reshape(-1)).astype(np.float32)
        nodes.append(helper.make_node("Add", [nodes[-1].output[0], g.constant(b.reshape(-1, 1, 1) if op == "ConvInteger" else b,
                                                                          name + "_bias")], [node.output[0]]))
    return nodes, None


def _gather_first(g: _Graph, node) -> list | None:
    """Gather(DequantizeLinear(table)) -> DequantizeLinear(Gather(table)) for a per-tensor table."""
    from onnx import helper

    found = g.dq(node.input[0], weight=True)
    if found is None or found[1].size != 1:
        return None
    dq_node, _, zp = found
    rows = f"{node.output[0]}_int8"
    gather = helper.make_node("Gather", [dq_node.input[0], node.input[1]], [rows], name=node.name, axis=_attr(node, "axis", 0))
    return [gather, helper.make_node("DequantizeLinear", [rows, dq_node.input[1], g.zero_point(dq_node, zp)], [node.output[0]])], None


def to_qoperator(model):
    """(model with its QDQ groups as integer operators, number rewritten); the input is not modified."""
    import onnx

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = _Graph(model.graph)
    nodes, dropped, count = [], set(), 0
    for node in model.graph.node:
        if id(node) in dropped:
            continue
        result = None
        if node.domain in ("", "ai.onnx") and node.op_type in INTEGER_OPS:
            result = _rewrite(g, node)
        elif node.domain in ("", "ai.onnx") and node.op_type == "Gather":
            result = _gather_first(g, node)
        if result is None:
            nodes.append(node)
            continue
        new, q = result
        nodes.extend(new)
        if q is not None:
            dropped.add(id(q))
        count += 1
    if not count:
        return model, 0
    used = {name for n in nodes for name in n.input} | g.outputs
    kept = [n for n in nodes if n.op_type != "DequantizeLinear" or any(o in used for o in n.output)]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(g.added)
    used = {name for n in kept for name in n.input} | g.outputs
    live = [i for i in model.graph.initializer if i.name in used]  # the folded-away biases' parameters
    del model.graph.initializer[:]
    model.graph.initializer.extend(live)
    if any(n.domain == "com.microsoft" for n in kept) and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return model, count
