"""Folds `QLinearConv -> DequantizeLinear -> Relu|Clip [-> MaxPool] -> QuantizeLinear` into
`QLinearConv (requantized straight to the next scale) -> Clip [-> MaxPool]`, all in int8.

ONNX Runtime's QOperator output leaves Relu, Clip (ReLU6) and MaxPool in fp32 between two int8
convolutions. With symmetric int8 (zero point 0) Relu is max(q, 0), Clip(lo, hi) is a clip to
(round(lo / s), round(hi / s)), and MaxPool commutes with the monotonic requantization, so the float
round trip only costs code and time. The fold is exact up to one rounding step (one requantization
instead of two), and more accurate than the round trip: the conv's own output scale spans its
pre-activation range (e.g. [-9, 9] before a ReLU6), a coarser grid than the activation's.
"""

from __future__ import annotations

import numpy as np


def fold_relu_chains(proto):
    import onnx
    from onnx import helper, numpy_helper

    graph = proto.graph
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    inits = {i.name: i for i in graph.initializer}
    constants = {n.output[0]: n.attribute[0].t for n in graph.node
                 if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value"}
    outputs = {o.name for o in graph.output}

    def only(name):
        found = consumers.get(name, [])
        return found[0] if len(found) == 1 and name not in outputs else None

    drop, retyped, zero = set(), set(), "edgebuild_int8_zero"
    folded = 0
    for conv in list(graph.node):
        if conv.op_type != "QLinearConv":
            continue
        dq = only(conv.output[0])
        relu = only(dq.output[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        bounds = _bounds(relu, inits, constants) if relu is not None else None
        if bounds is None:
            continue
        chain, nxt = [], only(relu.output[0])
        while nxt is not None and nxt.op_type == "MaxPool":
            chain.append(nxt)
            nxt = only(nxt.output[0])
        q = nxt
        if q is None or q.op_type != "QuantizeLinear" or q.input[2] not in inits:
            continue
        if np.any(numpy_helper.to_array(inits[q.input[2]]) != 0) or numpy_helper.to_array(inits[q.input[2]]).dtype != np.int8:
            continue
        if q.input[1] not in inits:
            continue
        # The conv now requantizes to q's scale; the int8 Clip is the activation; MaxPool runs on int8.
        conv.input[6], conv.input[7] = q.input[1], q.input[2]
        mid = conv.output[0]
        clipped = f"{mid}_relu_int8"
        lo, hi = (_q(b, float(numpy_helper.to_array(inits[q.input[1]]))) for b in bounds)
        limits = [zero] if lo == 0 else [_constant(graph, f"{mid}_clip_min_int8", lo)]
        if hi < 127:
            limits.append(_constant(graph, f"{mid}_clip_max_int8", hi))
        clip = helper.make_node("Clip", [mid, *limits], [clipped], name=f"{conv.name}_relu_int8")
        graph.node.insert(list(graph.node).index(conv) + 1, clip)
        last = clipped
        for pool in chain:
            pool.input[0] = last
            last = pool.output[0]
            retyped.add(last)
        for node in consumers.get(q.output[0], []):
            for i, name in enumerate(node.input):
                if name == q.output[0]:
                    node.input[i] = last
        drop.update(id(n) for n in (dq, relu, q))
        folded += 1
    if not folded:
        return proto, 0
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept)
    stale = [v for v in graph.value_info if v.name in retyped]  # were float, are int8 now
    for value in stale:
        graph.value_info.remove(value)
    graph.initializer.append(numpy_helper.from_array(np.array(0, dtype=np.int8), zero))
    onnx.checker.check_model(proto)
    return proto, folded


def _q(bound: float, scale: float) -> int:
    """A float clip bound on the int8 grid of `scale` (zero point 0), saturated to int8."""
    return int(np.clip(np.round(bound / scale), -128, 127))


def _constant(graph, name: str, value: int) -> str:
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.int8), name))
    return name


def _bounds(node, inits, constants) -> tuple[float, float] | None:
    """(lo, hi) of a Relu or a Clip with constant bounds (absent bounds: +-inf), else None."""
    from onnx import helper, numpy_helper

    if node.op_type == "Relu":
        return 0.0, np.inf
    if node.op_type != "Clip":
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}  # opset < 11
    found = [attrs.get("min", -np.inf), attrs.get("max", np.inf)]
    for i, name in enumerate(node.input[1:3]):
        if not name:
            continue
        if name in inits:
            found[i] = float(numpy_helper.to_array(inits[name]))
        elif name in constants:
            found[i] = float(numpy_helper.to_array(constants[name]))
        else:
            return None
    return found[0], found[1]
