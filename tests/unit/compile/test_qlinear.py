"""The int8 lowering, proved from the artifact: IR dtypes, machine code, and the bytes in model.so."""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild import targets
from edgebuild.compile import qlinear, relax
from edgebuild.compile.runner import HostModel
from edgebuild.progress import SILENT

from . import quantized_graphs as qg
from tests.conftest import int8_layouts, library_bytes

RNG = np.random.default_rng(0)
W = RNG.integers(-127, 128, (32, 16, 3, 3), dtype=np.int8)
BIAS = RNG.integers(-500, 500, 32).astype(np.int32)
W_SCALE = RNG.uniform(0.001, 0.01, 32).astype(np.float32)


def qconv_graph(tmp_path, x_zp=0):
    inits = [numpy_helper.from_array(a, n) for a, n in [
        (np.float32(0.02), "xs"), (np.int8(x_zp), "xz"), (W, "w"), (W_SCALE, "ws"), (np.zeros(32, np.int8), "wz"),
        (np.float32(0.05), "ys"), (np.int8(0), "yz"), (BIAS, "b")]]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["yq"],
                              pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 8, 8])], inits)
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def asm_of(mod, target_name, project):
    ex, _ = relax.compile_executable(mod, relax.tvm_target(targets.load(project, target_name)))
    return "\n".join(m.inspect_source("asm") for m in [ex.mod, *ex.mod.imports] if m.kind == "llvm")


def test_qlinear_conv_lowers_to_int8_conv_with_int32_accumulation(tmp_path):
    mod = relax.import_onnx(qconv_graph(tmp_path))
    text = mod.script()
    convs = re.findall(r"R\.nn\.conv2d\((\w+), metadata\[[^\]]+\]\[\d+\][^\n]*", text)
    assert convs and 'out_dtype="int32"' in re.search(r"R\.nn\.conv2d\([^\n]*", text).group(0)
    # the conv's data is the int8 QuantizeLinear output and its weight an int8 constant
    assert re.search(rf'{convs[0]}\s*:\s*R\.Tensor\(\(1, 16, 8, 8\), dtype="int8"\)', text)
    weights = [c for c in mod["main"].script(show_meta=True).split("\n") if "int8" in c]
    assert weights and "float32" not in re.search(r"R\.nn\.conv2d\([^\n]*", text).group(0)


@pytest.mark.parametrize("x_zp", [0, 3])
def test_lowered_conv_matches_onnxruntime_exactly(tmp_path, x_zp):
    """Zero point 3: ONNX pads with the zero point; the lowering pads explicitly and corrects exactly."""
    import onnxruntime as ort

    path = qconv_graph(tmp_path, x_zp)
    relax.compile_host(relax.import_onnx(path), tmp_path / "q.so")
    x = RNG.uniform(-1, 1, (1, 16, 8, 8)).astype(np.float32)
    (got,) = HostModel(tmp_path / "q.so", ["x"])({"x": x})
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert np.abs(got - want).max() <= 0.05 + 1e-6  # at most one quantization step (rounding ties)


def test_int8_weights_are_stored_as_int8_in_model_so(tmp_path):
    path = qconv_graph(tmp_path)
    relax.compile_host(relax.import_onnx(path), tmp_path / "q.so")
    data = library_bytes(tmp_path / "q.so")
    hwio = W.transpose(2, 3, 1, 0)  # CPU builds keep conv weights channels-last (compile/layout.py)
    assert any(w.tobytes() in data for w in int8_layouts(W))  # the 4,608 int8 weights (packed for the kernel)
    for wide in (W.astype(np.float32), W.astype(np.int32), hwio.astype(np.float32), hwio.astype(np.int32)):
        assert wide.tobytes()[:64] not in data


def test_rpi5_code_uses_dot_product_instructions_and_rpi4_does_not(tmp_path, project):
    mod = relax.import_onnx(qconv_graph(tmp_path))
    rpi5, rpi4 = asm_of(mod, "rpi5", project), asm_of(mod, "rpi4", project)
    assert len(re.findall(r"\bsdot\b", rpi5)) > 0
    assert not re.search(r"\b[su]dot\b", rpi4)


def test_matmul_integer_keeps_int8_weights_and_corrects_uint8_zero_point(tmp_path):
    b = RNG.integers(-127, 128, (16, 8), dtype=np.int8)
    inits = [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.int8(0), "bz")]
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             helper.make_node("MatMulInteger", ["xq", "b", "xz", "bz"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 8])], inits)
    path = tmp_path / "mi.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    mod = relax.import_onnx(path)
    assert re.search(r'R\.matmul\([^\n]*out_dtype="int32"', mod.script())
    relax.compile_host(mod, tmp_path / "mi.so")
    x = RNG.uniform(-1, 2, (4, 16)).astype(np.float32)
    # The exact integer result, by ONNX's definitions. Not ONNX Runtime's: on x86 CPUs without VNNI its
    # u8 x s8 kernel (vpmaddubsw) saturates pairs of products at int16 (seen on an AVX2-only host).
    scale = (max(0.0, x.max()) - min(0.0, x.min())) / 255
    zero = np.clip(np.rint(-min(0.0, x.min()) / scale), 0, 255)
    xq = np.clip(np.rint(x / np.float32(scale)) + zero, 0, 255).astype(np.int32)
    want = (xq - int(zero)) @ b.astype(np.int32)
    (got,) = HostModel(tmp_path / "mi.so", ["x"])({"x": x})
    assert np.array_equal(got, want)
    data = library_bytes(tmp_path / "mi.so")
    assert any(w.tobytes() in data for w in int8_layouts(b))  # int8, as given or packed for the kernel


def test_dynamic_quantize_linear_rounds_half_to_even_and_handles_an_all_zero_input_as_onnxruntime(tmp_path):
    """Ties of x / scale and of the zero point round to even; an all-zero x gets scale 1 and zero point 0
    (TVM's own converter divided by a zero range there)."""
    outs = [("y", TensorProto.UINT8, [8]), ("s", TensorProto.FLOAT, []), ("z", TensorProto.UINT8, [])]
    graph = helper.make_graph([helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
                              [helper.make_tensor_value_info(*o) for o in outs])
    path = tmp_path / "dq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    _, so = qg.build(path)
    cases = [[0, .5, 1.5, 2.5, 3.5, 100, 200, 255], [-2.5, .5, 1.5, 2.5, 3.5, 100, 200, 252.5], [0] * 8, [-3] * 8,
             RNG.normal(0, 3, 8)]
    for x in (np.asarray(c, np.float32) for c in cases):
        want, got = qg.ort_run(path, {"x": x}), qg.run(so, {"x": x})
        assert all(np.array_equal(w, g) for w, g in zip(want, got)), (x, want, got)


def test_the_lowered_operators_are_listed():
    assert set(qlinear.OPS) == {"QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger", "ConvInteger",
                                "DynamicQuantizeLinear", "QLinearAdd",
                                "QLinearMul", "QLinearConcat", "QLinearGlobalAveragePool", "QLinearSigmoid",
                                "QLinearLeakyRelu", "QLinearSoftmax"}


def test_transformer_linear_exported_as_gemm_quantizes_to_int8_qgemm_with_int8_weights(tmp_path):
    """MiniLM's linear layers export as Gemm(transB=1): int8-static must turn them into QGemm with
    per-channel int8 weights, lowered to an int8 x int8 -> int32 matmul that keeps the weights int8."""
    import onnxruntime as ort

    from edgebuild.compress import int8_static

    w = RNG.normal(0, 0.1, (24, 32)).astype(np.float32)  # [out, in], as torch's Linear exports
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(RNG.normal(0, 0.1, 24).astype(np.float32), "b")]
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, name="/layer.0/attention/output/dense/Gemm")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 24])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    samples = [{"x": RNG.normal(0, 1, (8, 32)).astype(np.float32)} for _ in range(8)]

    class Ctx:
        notes = {}
        progress = SILENT

        def calibration(self, n):
            return samples[:n]

    config = int8_static.Int8Static(calibration_samples=8, operators=["Conv", "MatMul", "Gemm"])
    quantized = int8_static.apply(proto, config, Ctx())
    assert [n.op_type for n in quantized.graph.node if n.op_type.startswith("Q")][:2] == ["QuantizeLinear", "QGemm"]
    path = tmp_path / "gemm.onnx"
    onnx.save(quantized, str(path))
    mod = relax.import_onnx(path)
    text = mod.script()
    matmul = re.search(r'R\.matmul\(([^\n]*)out_dtype="int32"', text)
    assert matmul and "float32" not in matmul.group(0)
    relax.compile_host(mod, tmp_path / "gemm.so")
    q_w = next(numpy_helper.to_array(i) for i in quantized.graph.initializer if numpy_helper.to_array(i).dtype == np.int8
               and numpy_helper.to_array(i).size == w.size)
    data = library_bytes(tmp_path / "gemm.so")
    assert any(w.tobytes() in data for w in int8_layouts(q_w))  # the weights, int8 (as given or packed)
    assert q_w.astype(np.float32).tobytes()[:64] not in data and q_w.T.astype(np.float32).tobytes()[:64] not in data
    (got,) = HostModel(tmp_path / "gemm.so", ["x"])(samples[0])
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, samples[0])
    (ref,) = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, samples[0])
    assert np.abs(got - want).max() < 1e-3 * np.abs(want).max() + 1e-5
    assert np.abs(got - ref).max() < 0.05 * np.abs(ref).max()


def test_int8_static_exclude_keeps_matching_nodes_fp32():
    from edgebuild.compress import int8_static

    names = ["/bert/encoder/layer.0/attention/output/dense/MatMul_output_0",
             "/bert/encoder/layer.0/output/dense/MatMul_output_0", "/bert/encoder/layer.11/output/dense/Gemm"]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], [f"y{i}"], name=n) for i, n in enumerate(names)],
                              "g", [], [])
    config = int8_static.Int8Static(exclude=[r"layer\.\d+/output/dense/"])
    assert int8_static.excluded_nodes(helper.make_model(graph), config) == names[1:]
    with pytest.raises(ValueError, match="not a regular expression"):
        int8_static.Int8Static(exclude=["layer.("])


def _check_int8_build(path, inputs, want, step):
    """Build `path` for the host: every conv/matmul int8 x int8 -> int32, every int8 weight stored as
    int8 in model.so, and the output within one quantization step of `want`."""
    mod, so = qg.build(path)
    ops = qg.heavy_ops(mod)
    assert ops and all(ins == ("int8", "int8") and out == "int32" for _, ins, out in ops), ops
    data = library_bytes(so)
    weights = qg.int8_weights(path)
    assert weights and all(qg.stored_int8(w, data) for w in weights)
    (got,) = qg.run(so, inputs)
    assert np.abs(got - want).max() <= step * 1.0001


def test_ort_qoperator_conv_net_with_uint8_activations_matches_onnxruntime(tmp_path):
    """quantize_static in QOperator format, uint8 activations with zero points, per-channel int8 weights:
    QLinearConv (strided, depthwise, pointwise), QLinearAdd/Sigmoid/Mul/GlobalAveragePool, QGemm."""
    model, inputs = qg.conv_net()
    path = qg.quantize(model, inputs, tmp_path, "QOperator", "uint8")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"QLinearConv", "QLinearAdd", "QLinearSigmoid", "QLinearMul", "QLinearGlobalAveragePool", "QGemm"} <= ops
    (want,) = qg.ort_run(qg.ort_exact(path), inputs)
    _check_int8_build(path, inputs, want, qg.output_step(path))


def test_ort_qoperator_transformer_block_with_int8_activations_matches_onnxruntime(tmp_path):
    """QLinearMatMul on weights and between activations (attention), QLinearSoftmax, int8 zero points."""
    model, inputs = qg.transformer_block()
    path = qg.quantize(model, inputs, tmp_path, "QOperator", "int8")
    assert {"QLinearMatMul", "QLinearSoftmax"} <= {n.op_type for n in onnx.load(str(path)).graph.node}
    (want,) = qg.ort_run(path, inputs)
    _check_int8_build(path, inputs, want, qg.output_step(path))


def test_ort_quantize_dynamic_conv_net_builds_conv_integer_as_int8(tmp_path):
    """The issue's failing case: quantize_dynamic writes ConvInteger + DynamicQuantizeLinear (uint8
    activations and uint8 weights, both with zero points); the output is float."""
    model, inputs = qg.conv_net()
    path = qg.quantize(model, inputs, tmp_path, "dynamic")
    assert {"ConvInteger", "DynamicQuantizeLinear", "MatMulInteger"} <= {n.op_type for n in onnx.load(str(path)).graph.node}
    (want,) = qg.ort_run(path, inputs)
    _check_int8_build(path, inputs, want, 1e-5 * np.abs(want).max())
