"""Channels-last conversion: bounds of a conv's epilogue stay in NHWC and leave the kernel's arguments."""

import numpy as np
import pytest
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import layout, relax


def test_clip_bounds_after_a_conv_become_immediate_clip_with_no_transpose_between(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    lo, hi = (numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((0.0, "lo"), (6.0, "hi")))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w, lo, hi])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    text = layout.to_nhwc()(relax.import_onnx(path)).script()
    assert "R.clip(" in text and "R.maximum(" not in text and "R.minimum(" not in text
    assert text.count("R.permute_dims(") == 2  # only the input and the output transpose


def _conv_then(tmp_path, nodes, out_shape, inits=(), size=8):
    """The Relax module of x -> 3x3 conv (4 channels, 'c') -> `nodes` -> y."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), *nodes], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], [w, *inits])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return relax.import_onnx(path)


def _convert(mod):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = layout.to_nhwc()(mod)
    return out, [str(w.message) for w in caught if "channels-last" in str(w.message)]


def test_squeeze_with_negative_axes_after_a_conv_converts(tmp_path):
    # TVM's ConvertLayout dies with std::bad_alloc on squeeze(axis=[-1, -2]); the axes are made positive first.
    axes = numpy_helper.from_array(np.array([-1, -2], np.int64), "ax")
    mod = _conv_then(tmp_path, [helper.make_node("ReduceMean", ["c"], ["r"], axes=[2, 3], keepdims=1),
                                helper.make_node("Squeeze", ["r", "ax"], ["y"])], [1, 4], [axes])
    out, warned = _convert(mod)
    assert not warned and 'data_layout="NHWC"' in out.script()
    assert "axis=[3, 2]" in out.script() or "axis=[1, 2]" in out.script() or "axis=[2, 1]" in out.script()


def test_min_of_two_inputs_is_pairwise_and_converts(tmp_path):
    # The importer's stack + min made ConvertLayout fail with "Invalid SLayout".
    out, warned = _convert(_conv_then(tmp_path, [helper.make_node("Relu", ["c"], ["x2"]),
                                                 helper.make_node("Min", ["c", "x2"], ["y"])], [1, 4, 8, 8]))
    assert not warned and 'data_layout="NHWC"' in out.script() and "R.stack" not in out.script()


def test_a_graph_tvm_cannot_convert_keeps_its_layout_with_a_warning():
    from tvm import relax as rx

    # min over a stack of conv outputs (TVM's own Min import): ConvertLayout fails with "Invalid SLayout".
    bb = rx.BlockBuilder()
    x = rx.Var("x", rx.TensorType((1, 3, 8, 8), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            c = bb.emit(rx.op.nn.conv2d(x, rx.const(np.ones((4, 3, 3, 3), np.float32)), padding=1))
            y = bb.emit_output(rx.op.min(rx.op.stack([c, c], axis=0), axis=[0]))
        bb.emit_func_output(y)
    out, warned = _convert(bb.get())
    assert len(warned) == 1 and "keeps its layout" in warned[0] and "Invalid SLayout" in warned[0]
    assert 'data_layout="NHWC"' not in out.script()


def test_a_bug_in_a_layout_rewrite_is_not_swallowed(tmp_path, monkeypatch):
    def broken(*_args):
        raise ZeroDivisionError("a bug in edgebuild, not TVM")

    monkeypatch.setattr(layout, "_rank", broken)
    mod = _conv_then(tmp_path, [helper.make_node("Squeeze", ["c", "ax"], ["y"])], [4, 8, 8],
                     [numpy_helper.from_array(np.array([0], np.int64), "ax")])
    with pytest.raises(Exception, match="a bug in edgebuild"):
        layout.to_nhwc()(mod)


def test_a_float_residual_add_between_quantized_convs_stays_channels_last(tmp_path):
    """conv -> QuantizeLinear -> DequantizeLinear -> conv -> QDQ, residual Add of both -> QuantizeLinear: the
    per-tensor QDQ ops become element-wise arithmetic, so no transpose pair wraps them; and the results
    are ONNX Runtime's exactly. The output scale is twice the inputs', so half the sums are rounding ties:
    an FMA-contracted dequantize (one rounding fewer) flipped 180 of them."""
    import onnxruntime as ort
    import tvm
    from tvm.runtime.vm import VirtualMachine

    inits = [numpy_helper.from_array(np.array(v, t), n) for v, t, n in
             ((0.1, np.float32, "s"), (0.2, np.float32, "s2"), (0, np.int8, "z"))]
    inits.append(numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 4, 1, 1)).astype(np.float32), "w2"))
    q = helper.make_node
    nodes = [q("QuantizeLinear", ["c", "s", "z"], ["qa"]), q("DequantizeLinear", ["qa", "s", "z"], ["da"]),
             q("Conv", ["da", "w2"], ["e"]), q("QuantizeLinear", ["e", "s", "z"], ["qb"]),
             q("DequantizeLinear", ["qb", "s", "z"], ["db"]), q("Add", ["da", "db"], ["a"]),
             q("QuantizeLinear", ["a", "s2", "z"], ["y8"]), q("DequantizeLinear", ["y8", "s2", "z"], ["y"])]
    mod = _conv_then(tmp_path, nodes, [1, 4, 32, 32], inits, size=32)
    converted, warned = _convert(mod)
    text = converted.script()
    assert not warned and "R.quantize(" not in text and "R.dequantize(" not in text
    assert text.count("R.permute_dims(") == 2  # only the input and the output transpose
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32) * 0.3
    executable, _ = relax.compile_executable(mod, relax.host_target())
    got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    want = ort.InferenceSession(str(tmp_path / "m.onnx"), options, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)  # TVM's own quantize/dequantize: 158 of 4096 differed here


def test_leaky_relu_after_a_conv_stays_channels_last_and_alpha_outside_0_1_is_kept(tmp_path):
    # ConvertLayout has no rule for leakyrelu: each one ran in NCHW between two transposes.
    out, warned = _convert(_conv_then(tmp_path, [helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.2)], [1, 4, 8, 8]))
    assert not warned and "R.nn.leakyrelu" not in out.script() and out.script().count("R.permute_dims(") == 2
    out, _ = _convert(_conv_then(tmp_path, [helper.make_node("LeakyRelu", ["c"], ["y"], alpha=1.5)], [1, 4, 8, 8]))
    assert "R.nn.leakyrelu" in out.script()


def test_leaky_relu_as_maximum_matches_onnx_runtime(tmp_path):
    from edgebuild.compile.runner import HostModel
    from tests.unit.compile.onnx_nodes import run

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.2)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path, so = tmp_path / "m.onnx", tmp_path / "m.so"
    onnx.save(model, str(path))
    relax.compile_host(relax.import_onnx(path), so)
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(HostModel(so, ["x"])({"x": x})[0], run(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
