"""ONNX 1-d Conv as a 2-d Conv of height 1, before import.

Only conv2d goes channels-last and meets the schedule rules' conv micro-kernel; a conv1d stays an
unscheduled NCW loop nest (an audio front end's STFT-as-Conv ran 13.7x slower than ONNX Runtime).
Same values: Unsqueeze(2) -> Conv(kernel 1xK) -> Squeeze(2).
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph


def rewrite(model):
    """`model` (not modified) with every Conv of 3-d weights as a 2-d Conv."""
    import onnx

    opset = onnx_graph.opset(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv" and n.domain in ("", "ai.onnx")]
    if not convs or opset < 13:  # Unsqueeze/Squeeze take their axes as inputs from opset 13
        return model
    shapes = onnx_graph.shapes(model)
    if not any(len(shapes.get(n.input[1], ())) == 3 for n in convs):
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    axis = f"{model.graph.name}__conv1d_axis"
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array([2], np.int64), axis))
    nodes = []
    for node in model.graph.node:
        if not (node.op_type == "Conv" and node.domain in ("", "ai.onnx") and len(shapes.get(node.input[1], ())) == 3):
            nodes.append(node)
            continue
        base = node.output[0] + "__2d"
        inputs = [f"{base}_x", f"{base}_w"] + list(node.input[2:])
        nodes += [onnx.helper.make_node("Unsqueeze", [node.input[0], axis], [inputs[0]], name=inputs[0]),
                  onnx.helper.make_node("Unsqueeze", [node.input[1], axis], [inputs[1]], name=inputs[1])]
        nodes.append(onnx.helper.make_node("Conv", inputs, [base], name=node.name or base, **_attrs_2d(node)))
        nodes.append(onnx.helper.make_node("Squeeze", [base, axis], [node.output[0]], name=base + "_squeeze"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def _attrs_2d(node) -> dict:
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    out = {"group": attrs.get("group", 1)}
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad != "NOTSET":
        out["auto_pad"] = auto_pad
    if "kernel_shape" in attrs:
        out["kernel_shape"] = [1, *attrs["kernel_shape"]]
    out["strides"] = [1, *attrs.get("strides", [1])]
    out["dilations"] = [1, *attrs.get("dilations", [1])]
    if "pads" in attrs:
        begin, end = attrs["pads"]
        out["pads"] = [0, begin, 0, end]
    return out
