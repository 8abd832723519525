"""The parity check of quantized graphs: ONNX Runtime's exact result, and a tolerance strict enough that
a rounding or zero-point bug in the int8 lowering fails it."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import qint
from edgebuild.compress import ort_reference

from tests.unit.compile import quantized_graphs as qg

RNG = np.random.default_rng(5)


def _dynamic_matmul(weight: np.ndarray, static_scale: float | None = None) -> onnx.ModelProto:
    """DynamicQuantizeLinear + MatMulInteger; with static_scale, QuantizeLinear by constants instead."""
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(weight.shape[1], np.int8), "wz")]
    quantize = helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"])
    if static_scale is not None:
        inits += [numpy_helper.from_array(np.float32(static_scale), "xs"), numpy_helper.from_array(np.uint8(128), "xz")]
        quantize = helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"])
    nodes = [quantize, helper.make_node("MatMulInteger", ["xq", "w", "xz", "wz"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 8])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_the_reference_computes_uint8_by_int8_products_exactly():
    """Weights of -127 against activations near 255: vpmaddubsw's int16 pair sums would saturate."""
    w = np.full((64, 8), -127, np.int8)
    w[::2] = RNG.integers(-127, 128, (32, 8), dtype=np.int8)
    model = _dynamic_matmul(w)
    exact = ort_reference.exact_weights(model)
    stored = {i.name: numpy_helper.to_array(i) for i in exact.graph.initializer}
    assert stored["w"].dtype == np.uint8 and np.array_equal(stored["w"].astype(np.int16) - 128, w)
    x = np.where(RNG.random((4, 64)) < 0.5, 10.0, -0.01).astype(np.float32)
    (got,) = ort_reference.run(model, {"x": x})
    scale = np.float32(10.01) / np.float32(255)
    zero = np.rint(np.float32(0.01) / scale)
    xq = np.clip(np.rint(x / scale) + zero, 0, 255).astype(np.int64)
    assert np.array_equal(got, (xq - zero.astype(np.int64)) @ w.astype(np.int64))


def test_int8_activations_keep_their_int8_weights(tmp_path):
    """int8 x int8 kernels are exact, and ONNX Runtime has none for int8 x uint8."""
    model, inputs = qg.transformer_block()
    proto = onnx.load(str(qg.quantize(model, inputs, tmp_path, "QOperator", "int8")))
    before = {i.name: i.data_type for i in proto.graph.initializer}
    assert {i.name: i.data_type for i in ort_reference.exact_weights(proto).graph.initializer} == before
    assert ort_reference.is_quantized(proto) and not ort_reference.is_quantized(model)


def test_tolerance_is_one_output_step_or_a_thousandth_of_the_output_scale():
    inits = [numpy_helper.from_array(np.float32(0.05), "s"), numpy_helper.from_array(np.uint8(3), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"]),
             helper.make_node("Identity", ["x"], ["f"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("y", "f")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    step, rel = ort_reference.tolerances(model, [np.zeros(4), np.array([0.0, -7.0, 2.0, 1.0])])
    assert step == pytest.approx(0.05, rel=1e-3) and rel == pytest.approx(7e-3)
    assert ort_reference.tolerances(model, [np.zeros(4), np.full(4, 0.1)])[1] == pytest.approx(1e-3)


@pytest.fixture(scope="module")
def dynamic_block(tmp_path_factory):
    """A transformer block through quantize_dynamic as the int8-dynamic recipe calls it (int8 per-channel
    weights, uint8 activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = tmp_path_factory.mktemp("dynamic")
    model, inputs = qg.transformer_block(dim=64)
    onnx.save(model, str(folder / "float.onnx"))
    quantize_dynamic(str(folder / "float.onnx"), str(folder / "dynamic.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    return folder / "dynamic.onnx", inputs


def _judged(path, inputs):
    """The check on the fixture's input and four more of its shape (a graph quantizing at run time is
    judged on several)."""
    _, so = qg.build(path)
    rng = np.random.default_rng(11)
    cases = [inputs] + [{k: rng.normal(0, 1, v.shape).astype(v.dtype) for k, v in inputs.items()} for _ in range(4)]
    return ort_reference.check(onnx.load(str(path)), [(case, qg.run(so, case)) for case in cases])


def test_the_dynamic_int8_build_is_within_its_tolerance(dynamic_block):
    judged = _judged(*dynamic_block)
    assert judged["within"] and judged["max_abs_diff"] < judged["tolerance"] / 10, judged
    assert judged["inputs"] == 5 and judged["inputs_within"] >= 3


def test_a_run_time_quantized_graph_passes_on_most_inputs_and_any_other_on_all(dynamic_block):
    """An ulp before DynamicQuantizeLinear may flip one rounding on some inputs (module doc): one
    input of three beyond the tolerance passes, two fail. A graph without run-time quantization fails
    on any one."""
    path, inputs = dynamic_block
    proto = onnx.load(str(path))
    exact = ort_reference.run(proto, inputs)
    off = [e + 0.5 for e in exact]
    assert ort_reference.check(proto, [(inputs, off), (inputs, exact), (inputs, exact)])["within"]
    judged = ort_reference.check(proto, [(inputs, exact), (inputs, off), (inputs, off)])
    assert not judged["within"] and judged["inputs_within"] == 1 and judged["max_abs_diff"] < 1e-6
    static = _dynamic_matmul(np.ones((64, 8), np.int8), static_scale=0.1)
    x = {"x": RNG.normal(0, 1, (4, 64)).astype(np.float32)}
    (y,) = ort_reference.run(static, x)
    assert not ort_reference.quantizes_at_run_time(static)
    assert not ort_reference.check(static, [(x, [y + 1]), (x, [y]), (x, [y])])["within"]


@pytest.mark.parametrize("bug", ["round down", "uint8 zero point unshifted"])
def test_a_rounding_or_zero_point_bug_fails_the_check(dynamic_block, bug, tmp_path, monkeypatch):
    import shutil

    from tvm import relax

    if bug == "round down":  # the run-time quantization's values and zero point floored, not rounded
        monkeypatch.setattr(relax.op, "round", relax.op.floor)
    else:  # uint8 - 128 becomes int8 for the kernel; forgetting to move the zero point by the same 128
        shifted = qint.zero_point
        monkeypatch.setattr(qint, "zero_point", lambda zp, shift: shifted(zp, 0))
    path = tmp_path / "bug.onnx"
    shutil.copy(dynamic_block[0], path)
    judged = _judged(path, dynamic_block[1])
    assert not judged["within"] and judged["inputs_within"] == 0, judged
