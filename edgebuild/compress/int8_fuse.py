"""Folds `QLinearConv -> DequantizeLinear -> Relu [-> MaxPool] -> QuantizeLinear` into
`QLinearConv (requantized straight to the next scale) -> Clip(0) [-> MaxPool]`, all in int8.

ONNX Runtime's QOperator output leaves Relu and MaxPool in fp32 between two int8 convolutions. With
symmetric int8 (zero point 0) Relu is max(q, 0) and MaxPool commutes with the monotonic
requantization, so the float round trip only costs code and time. The fold is exact up to one
rounding step (one requantization instead of two).
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
        if relu is None or relu.op_type != "Relu":
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
        # The conv now requantizes to q's scale; Clip(0) is the int8 Relu; MaxPool runs on int8.
        conv.input[6], conv.input[7] = q.input[1], q.input[2]
        mid = conv.output[0]
        clipped = f"{mid}_relu_int8"
        clip = helper.make_node("Clip", [mid, zero], [clipped], name=f"{conv.name}_relu_int8")
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
