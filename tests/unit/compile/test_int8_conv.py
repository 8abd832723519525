"""int8 conv kernels (regular and depthwise): exact against an integer reference here, with any stride,
padding, dilation, groups and zero points; and the target's dot-product (or, for depthwise, widening
multiply) instruction in the innermost loop of each int8 conv kernel's object code."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgebuild.compile import relax as erelax
from tests.unit.compile.test_int8_kernels import ARM, X86, asm, innermost_loops


def reference(x, x_zp, w, w_zp, pads, strides, dilations, group) -> np.ndarray:
    """ONNX ConvInteger: sum((x - x_zp)(w - w_zp)) in exact integers; padding holds x_zp (a zero after centring)."""
    x = np.pad(x.astype(np.int64) - int(x_zp), [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])])
    w = w.astype(np.int64) - np.asarray(w_zp, np.int64).reshape(-1, 1, 1, 1)
    cout, cin_g, kh, kw = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], cout, oh, ow), np.int64)
    per_group = cout // group
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            for g in range(group):
                xs = patch[:, g * cin_g:(g + 1) * cin_g]
                ws = w[g * per_group:(g + 1) * per_group, :, i, j]
                out[:, g * per_group:(g + 1) * per_group] += np.einsum("bchw,oc->bohw", xs, ws)
    return out.astype(np.int32)


def conv_integer_graph(folder, x_dtype, cin, cout, kernel, group, pads, strides, dilations, x_zp, w_zp, seed=0):
    """An ONNX ConvInteger graph (x input, int8 weight and zero points constant) and its weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, (cout, cin // group, *kernel)).astype(np.int8)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.asarray(x_zp, x_dtype), "x_zp"),
             numpy_helper.from_array(np.asarray(w_zp, np.int8), "w_zp")]
    node = helper.make_node("ConvInteger", ["x", "w", "x_zp", "w_zp"], ["y"], pads=list(pads), strides=list(strides),
                            dilations=list(dilations), group=group, kernel_shape=list(kernel))
    elem = TensorProto.UINT8 if x_dtype == "uint8" else TensorProto.INT8
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", elem, [1, cin, 9, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "conv.onnx"
    onnx.save(model, str(path))
    return path, w


CASES = {  # x dtype, cin, cout, kernel, group, pads, strides, dilations, x zero point, w zero point
    "3x3 same, u8": ("uint8", 8, 16, (3, 3), 1, (1, 1, 1, 1), (1, 1), (1, 1), 0, 0),
    "3x3 stride 2, asym pads, zero points": ("int8", 6, 20, (3, 3), 1, (1, 0, 2, 1), (2, 2), (1, 1), 3, -2),
    "1x1, odd channels, u8 zero point": ("uint8", 3, 7, (1, 1), 1, (0, 0, 0, 0), (1, 1), (1, 1), 131, 0),
    "dilated 3x2": ("int8", 4, 8, (3, 2), 1, (2, 1, 2, 1), (1, 2), (2, 1), 0, 0),
    "depthwise 3x3 stride 2, u8": ("uint8", 16, 16, (3, 3), 16, (1, 1, 1, 1), (2, 2), (1, 1), 128, 0),
    "depthwise 5x5, zero points": ("int8", 12, 12, (5, 5), 12, (2, 2, 2, 2), (1, 1), (1, 1), -5, 1),
    "depthwise x2 channels": ("int8", 4, 8, (3, 3), 4, (1, 1, 1, 1), (1, 1), (1, 1), 0, 0),
    "grouped 3x3, 4 groups, u8": ("uint8", 16, 32, (3, 3), 4, (1, 1, 1, 1), (1, 1), (1, 1), 7, 0),
    "grouped 1x1, 3 groups of odd widths": ("int8", 9, 15, (1, 1), 3, (0, 0, 0, 0), (2, 1), (1, 1), 0, 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_int8_convs_are_exact_here(tmp_path, case):
    from edgebuild.compile import pipeline, schedule
    from edgebuild.compile.runner import HostModel

    x_dtype, cin, cout, kernel, group, pads, strides, dilations, x_zp, w_zp = CASES[case]
    path, w = conv_integer_graph(tmp_path, x_dtype, cin, cout, kernel, group, pads, strides, dilations, x_zp, w_zp)
    mod = erelax.import_onnx(path)
    _, kinds = schedule.schedule_module(pipeline.fuse(mod, erelax.host_target()), erelax.host_target())
    rule = "int8_dw" if group == cin and group > 1 else "int8"  # grouped convs too: no generic fallback
    assert rule in kinds.values(), kinds
    so = tmp_path / "conv.so"
    erelax.compile_host(mod, so)
    info = np.iinfo(x_dtype)
    x = np.random.default_rng(1).integers(info.min, info.max + 1, (1, cin, 9, 10)).astype(x_dtype)
    got = HostModel(so, ["x"])({"x": x})[0]
    assert np.array_equal(got, reference(x, x_zp, w, w_zp, pads, strides, dilations, group))


def conv_module(groups: int, x_dtype="int8", c=32):
    """An NHWC int8 conv (3x3, stride 1, same padding) with a requantize epilogue, as qlinear lowers QLinearConv."""
    from tvm import relax

    w = np.random.default_rng(0).integers(-128, 128, (3, 3, c // groups, c)).astype("int8")
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 14, 14, c), x_dtype))
    with bb.function("main", [x]):
        with bb.dataflow():
            acc = bb.emit(relax.op.nn.conv2d(x, relax.const(w), padding=(1, 1, 1, 1), groups=groups, data_layout="NHWC",
                                             kernel_layout="HWIO", out_dtype="int32"))
            scaled = bb.emit(relax.op.multiply(relax.op.astype(acc, "float32"), relax.const(np.float32(1 / 4096))))
            out = bb.emit_output(relax.op.astype(relax.op.clip(relax.op.round(scaled), -128, 127), "int8"))
        bb.emit_func_output(out)
    return bb.get()


def inner_count(spec, instruction: str, groups: int, x_dtype="int8") -> int:
    """Occurrences of `instruction` in the busiest innermost loop of the int8 conv kernel."""
    symbol = "int8_dw" if groups == 32 else "int8_conv"  # conv_module's 32 channels
    bodies = innermost_loops(asm(spec, conv_module(groups, x_dtype)), symbol)
    assert bodies, f"no {symbol} kernel with a loop in the object code"
    return max(len(re.findall(rf"\b{instruction}\b", b)) for b in bodies)


RPI5 = {**ARM, "mcpu": "cortex-a76", "mattr": ["+neon", "+dotprod"]}
RPI4 = {**ARM, "mcpu": "cortex-a72", "mattr": ["+neon"]}


def test_rpi5_int8_convs_use_sdot_and_depthwise_the_widening_multiply():
    assert inner_count(RPI5, "sdot", 1) >= 4
    assert inner_count(RPI5, "sdot", 1, "uint8") >= 4  # u8 activations shifted to s8
    assert inner_count(RPI5, "smull", 32) >= 1


@pytest.mark.parametrize("spec,instruction", [
    ({**X86, "mcpu": "cascadelake"}, "vpdpbusd"), ({**X86, "mcpu": "haswell"}, "vpmaddwd"), (RPI5, "sdot"),
])
def test_grouped_int8_convs_use_the_packed_dot_product_kernel(spec, instruction):
    assert inner_count(spec, instruction, 4) >= 2  # 4 groups of 8 channels: the generic conv had none


def test_rpi4_int8_convs_use_widening_neon_and_no_sdot():
    assert inner_count(RPI4, "smull", 1) >= 4
    assert inner_count(RPI4, "smull", 32) >= 1
    assert "sdot" not in asm(RPI4, conv_module(1)) + asm(RPI4, conv_module(32))


@pytest.mark.parametrize("mcpu,instruction", [("haswell", "vpmaddwd"), ("cascadelake", "vpdpbusd")])
def test_x86_int8_convs_use_the_cpus_dot_product(mcpu, instruction):
    assert inner_count({**X86, "mcpu": mcpu}, instruction, 1) >= 4
    assert inner_count({**X86, "mcpu": mcpu}, "vpmullw", 32) >= 1


def test_armv7_int8_convs_use_vmull_and_vpadal_and_depthwise_the_widening_add(project):
    from tests.unit.compile.test_int8_kernels import shipped_target

    spec = shipped_target(project, "rpi3-armv7")
    assert inner_count(spec, "vmull.s8", 1) >= 4 and inner_count(spec, "vpadal.s16", 1) >= 4
    assert inner_count(spec, "vaddw.s16", 32) >= 1


def requantized_conv_module(h: int, c: int, cout: int, k: int, groups: int):
    """An NHWC int8 conv with qlinear's per-channel epilogue: + bias, * scale, round, saturate, int8 Relu."""
    from tvm import relax

    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (k, k, c // groups, cout)).astype("int8")
    per_channel = (1, 1, 1, cout)
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, h, h, c), "int8"))
    with bb.function("main", [x]):
        with bb.dataflow():
            acc = bb.emit(relax.op.nn.conv2d(x, relax.const(w), padding=k // 2, groups=groups, data_layout="NHWC",
                                             kernel_layout="HWIO", out_dtype="int32"))
            acc = relax.op.add(acc, relax.const(rng.integers(-99, 99, per_channel).astype("int32")))
            scaled = relax.op.multiply(relax.op.astype(acc, "float32"), relax.const(rng.random(per_channel, "float32") / 4096))
            bounds = (relax.const(np.full((1, 1, 1, 1), v, "float32")) for v in (-128, 127))
            q = relax.op.astype(relax.op.minimum(relax.op.maximum(relax.op.round(scaled), next(bounds)), next(bounds)), "int8")
            out = bb.emit_output(relax.op.maximum(q, relax.const(np.zeros((1, 1, 1, 1), "int8"))))
        bb.emit_func_output(out)
    return bb.get()


@pytest.mark.parametrize("groups,cin,k", [(1, 16, 1), (48, 48, 3)])
def test_int8_requantize_epilogues_are_vectorised_over_channels(groups, cin, k):
    """round (TIR nearbyint) must not scalarise the epilogue: without the fix LLVM rounded 4 rows at a time
    (xmm) and stored each output byte alone (vpextrb)."""
    text = asm({**X86, "mcpu": "haswell"}, requantized_conv_module(16, cin, 48, k, groups))
    assert re.search(r"vroundps\s+\$\d+, %ymm", text) and "vpextrb" not in text
