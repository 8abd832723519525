"""ONNX ConvTranspose as one Conv on the undilated input plus a pixel shuffle and a crop, before import.

TVM 0.27 lowers conv2d_transpose as a convolution over the input dilated with zeros (stride 2: 3 of 4
multiplications by zero) and has no channels-last form of it, so it stays an NCHW kernel: in the
corpus's segmentation net (wired-table-lineseg, measured 2026-11-29) its two upsampling layers took
62% of the run time, at 2.31x ONNX Runtime's median latency; 0.74x-0.78x with this rewrite.
Output phase (ry, rx) of a stride-s transposed convolution only meets the kernel taps ry + j*s: an
ordinary convolution with a kernel of ceil(k/s) taps. All s*s phases become the output channels of one
Conv (channel = co*sh*sw + ry*sw + rx), which goes channels-last and meets the schedule rules like any
other; Reshape/Transpose interleave the phases and Slice crops the pads. Same values, bias included;
groups stay groups (each group's phases are its own output channels). Only 2-d, constant weights,
dilation 1, explicit pads and static shapes; others stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import onnx_graph


@dataclass(frozen=True)
class _Plan:
    shape: tuple[int, int, int, int]  # input N, C, H, W
    weight: np.ndarray  # ConvTranspose's: C, M, kh, kw
    bias: np.ndarray | None
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    group: int
    out_hw: tuple[int, int]
    replaces: tuple[str, ...]  # the weight and bias initializers


def rewrite(model):
    """`model` (not modified) with every ConvTranspose that qualifies as Conv + pixel shuffle + Slice,
    and output_shape or SAME auto_pad given as explicit pads (TVM's importer ignores them) on the others."""
    import onnx

    model = onnx_graph.rewrite(model, {"ConvTranspose": explicit_pads})
    opset = onnx_graph.opset(model)
    if opset < 10 or not any(n.op_type == "ConvTranspose" for n in model.graph.node):
        return model  # Slice takes its bounds as inputs from opset 10
    constants, shapes = onnx_graph.constants(model), onnx_graph.shapes(model)
    plans = {n.output[0]: p for n in model.graph.node if n.op_type == "ConvTranspose"
             and n.domain in ("", "ai.onnx") and (p := _plan(n, constants, shapes)) is not None}
    if not plans:
        return model
    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes, added = [], []
    for node in model.graph.node:
        plan = plans.get(node.output[0]) if node.op_type == "ConvTranspose" else None
        if plan is None:
            nodes.append(node)
            continue
        lowered, tensors = _lower(node, plan)
        nodes += lowered
        added += tensors
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    used = {i for n in nodes for i in n.input}
    replaced = {name for plan in plans.values() for name in plan.replaces}
    kept = [t for t in model.graph.initializer if t.name in used or t.name not in replaced]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + added)
    return model


def explicit_pads(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    """The node with `output_shape` or SAME auto_pad replaced by the pads and output padding they mean,
    split as ONNX's reference splits them (SAME_UPPER: the odd pixel at the end; NOTSET and SAME_LOWER:
    at the start); a negative end pad (the output grows) becomes output padding."""
    import onnx

    attrs = onnx_graph.attributes(node)
    shape, weight = graph.static_shape(node.input[0]), graph.shapes.get(node.input[1])
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if ("output_shape" not in attrs and auto_pad not in ("SAME_UPPER", "SAME_LOWER")) or shape is None \
            or weight is None or min(weight[2:], default=0) <= 0:
        return None
    d = len(shape) - 2
    strides, dilations = attrs.get("strides", [1] * d), attrs.get("dilations", [1] * d)
    extra = attrs.get("output_padding", [0] * d)
    wanted = attrs.get("output_shape", [i * s for i, s in zip(shape[2:], strides)])[-d:]
    begin, end, grown = [], [], []
    for o, i, s, k, dl, e in zip(wanted, shape[2:], strides, weight[2:], dilations, extra):
        total = s * (i - 1) + e + (k - 1) * dl + 1 - o
        first = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
        begin.append(first)
        end.append(max(0, total - first))
        grown.append(e + max(0, first - total))
    if min(begin) < 0:
        return None
    emit = onnx_graph.Emit(node, graph.opset)
    emit.clone(node, node.input, node.output, drop=("output_shape", "auto_pad", "pads", "output_padding"))
    emit.nodes[-1].attribute.extend([onnx.helper.make_attribute("pads", begin + end),
                                     onnx.helper.make_attribute("output_padding", grown)])
    return emit


def _plan(node, constants, shapes) -> _Plan | None:
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    weight = constants.get(node.input[1])
    bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    shape = shapes.get(node.input[0])
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    if (weight is None or weight.ndim != 4 or shape is None or len(shape) != 4 or min(shape) <= 0
            or (len(node.input) > 2 and node.input[2] and bias is None)
            or shape[1] % attrs.get("group", 1) or any(d != 1 for d in attrs.get("dilations", [1, 1]))
            or (auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad) != "NOTSET"
            or "output_shape" in attrs or weight.shape[0] != shape[1]):
        return None
    strides = tuple(attrs.get("strides", [1, 1]))
    pads = tuple(attrs.get("pads", [0, 0, 0, 0]))
    extra = attrs.get("output_padding", [0, 0])
    kernel = weight.shape[2:]
    out_hw = tuple(s * (i - 1) + e + k - p0 - p1
                   for s, i, e, k, p0, p1 in zip(strides, shape[2:], extra, kernel, pads[:2], pads[2:]))
    if min(out_hw) <= 0:
        return None
    return _Plan(tuple(shape), weight, bias, strides, pads, attrs.get("group", 1), out_hw, tuple(node.input[1:]))


def _lower(node, plan: _Plan):
    """Conv (phases as channels) -> Reshape/Transpose (interleave) -> Slice (crop), as nodes and initializers."""
    from onnx import helper, numpy_helper

    n, _, h, w = plan.shape
    cin, mg, kh, kw = plan.weight.shape  # mg: output channels per group
    g = plan.group
    m = mg * g
    (sh, sw), (top, left, _, _) = plan.strides, plan.pads
    jh, jw = -(-kh // sh), -(-kw // sw)  # taps per phase
    # Rows of the full (uncropped) output below the first s*skip are never read: skip them in the Conv.
    skip_h, skip_w = min(top // sh, jh - 1), min(left // sw, jw - 1)
    off_h, off_w = top - skip_h * sh, left - skip_w * sw
    rows, cols = h + jh - 1 - skip_h, w + jw - 1 - skip_w  # Conv output with pads (jh-1-skip, jh-1)
    # output_padding may need rows past the last the kernel reaches (they hold only the bias)
    more_h = max(0, -(-(off_h + plan.out_hw[0]) // sh) - rows)
    more_w = max(0, -(-(off_w + plan.out_hw[1]) // sw) - cols)
    rows, cols = rows + more_h, cols + more_w

    taps = np.zeros((cin, mg, jh * sh, jw * sw), plan.weight.dtype)
    taps[:, :, :kh, :kw] = plan.weight
    # phase (ry, rx), Conv tap (ty, tx) <- ConvTranspose tap (ry + (jh-1-ty)*sh, rx + (jw-1-tx)*sw)
    phases = taps.reshape(g, cin // g, mg, jh, sh, jw, sw)[:, :, :, ::-1, :, ::-1, :]  # g, ci, mg, ty, ry, tx, rx
    conv_w = np.ascontiguousarray(phases.transpose(0, 2, 4, 6, 1, 3, 5).reshape(m * sh * sw, cin // g, jh, jw))

    base = node.output[0] + "__subpixel"
    tensors = [numpy_helper.from_array(conv_w, f"{base}_w")]
    conv_inputs = [node.input[0], f"{base}_w"]
    if plan.bias is not None:
        tensors.append(numpy_helper.from_array(np.repeat(plan.bias, sh * sw), f"{base}_b"))
        conv_inputs.append(f"{base}_b")
    pads = [jh - 1 - skip_h, jw - 1 - skip_w, jh - 1 + more_h, jw - 1 + more_w]
    nodes = [helper.make_node("Conv", conv_inputs, [f"{base}_phases"], name=node.name or base,
                              kernel_shape=[jh, jw], pads=pads, strides=[1, 1], group=g)]
    source = f"{base}_phases"
    if (sh, sw) != (1, 1):
        for name, value in ((f"{base}_split", [n, m, sh, sw, rows, cols]),
                            (f"{base}_merged", [n, m, rows * sh, cols * sw])):
            tensors.append(numpy_helper.from_array(np.array(value, np.int64), name))
        nodes += [helper.make_node("Reshape", [source, f"{base}_split"], [f"{base}_split_out"], name=f"{base}_split"),
                  helper.make_node("Transpose", [f"{base}_split_out"], [f"{base}_t"], name=f"{base}_t",
                                   perm=[0, 1, 4, 2, 5, 3]),
                  helper.make_node("Reshape", [f"{base}_t", f"{base}_merged"], [f"{base}_full"], name=f"{base}_merged")]
        source = f"{base}_full"
    bounds = {"starts": [off_h, off_w], "ends": [off_h + plan.out_hw[0], off_w + plan.out_hw[1]], "axes": [2, 3]}
    for key, value in bounds.items():
        tensors.append(numpy_helper.from_array(np.array(value, np.int64), f"{base}_{key}"))
    nodes.append(helper.make_node("Slice", [source] + [f"{base}_{k}" for k in bounds], [node.output[0]],
                                  name=f"{base}_crop"))
    return nodes, tensors
