"""The int8 lowering, proved from the artifact: IR dtypes, machine code, and the bytes in model.so."""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild import targets
from edgebuild.compile import qlinear, relax
from edgebuild.compile.runner import HostModel
from edgebuild.errors import CompileError

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
    ex = relax.compile_executable(mod, relax.tvm_target(targets.load(project, target_name)))
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


def test_lowered_conv_matches_onnxruntime_exactly(tmp_path):
    import onnxruntime as ort

    path = qconv_graph(tmp_path)
    relax.compile_host(relax.import_onnx(path), tmp_path / "q.so")
    x = RNG.uniform(-1, 1, (1, 16, 8, 8)).astype(np.float32)
    (got,) = HostModel(tmp_path / "q.so", ["x"])({"x": x})
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert np.abs(got - want).max() <= 0.05 + 1e-6  # at most one quantization step (rounding ties)


def test_int8_weights_are_stored_as_int8_in_model_so(tmp_path):
    path = qconv_graph(tmp_path)
    relax.compile_host(relax.import_onnx(path), tmp_path / "q.so")
    data = (tmp_path / "q.so").read_bytes()
    hwio = W.transpose(2, 3, 1, 0)  # CPU builds keep conv weights channels-last (compile/layout.py)
    assert W.tobytes() in data or hwio.tobytes() in data  # the 4,608 int8 weights, verbatim
    for wide in (W.astype(np.float32), W.astype(np.int32), hwio.astype(np.float32), hwio.astype(np.int32)):
        assert wide.tobytes()[:64] not in data


def test_rpi5_code_uses_dot_product_instructions_and_rpi4_does_not(tmp_path, project):
    mod = relax.import_onnx(qconv_graph(tmp_path))
    rpi5, rpi4 = asm_of(mod, "rpi5", project), asm_of(mod, "rpi4", project)
    assert len(re.findall(r"\bsdot\b", rpi5)) > 0
    assert not re.search(r"\b[su]dot\b", rpi4)


def test_asymmetric_activation_zero_point_is_refused_with_the_fix(tmp_path):
    with pytest.raises(CompileError, match="symmetric int8"):
        relax.import_onnx(qconv_graph(tmp_path, x_zp=3))


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
    import onnxruntime as ort

    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    (got,) = HostModel(tmp_path / "mi.so", ["x"])({"x": x})
    assert np.array_equal(got, want)
    assert b.tobytes() in (tmp_path / "mi.so").read_bytes()


def test_the_lowered_operators_are_listed():
    assert set(qlinear.OPS) == {"QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger"}
