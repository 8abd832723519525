"""ConvTranspose as Conv + pixel shuffle + crop (conv_transpose.py): the same values as ONNX Runtime's
ConvTranspose over kernels, strides, pads, output paddings and bias; what it cannot lower it leaves."""

import itertools

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import conv_transpose

RNG = np.random.default_rng(0)


def _model(weight, bias=None, x_shape=(2, 3, 6, 7), weight_input=False, **attrs):
    inits = [] if weight_input else [numpy_helper.from_array(weight, "w")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))]
    if weight_input:
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, list(weight.shape)))
    names = ["x", "w"]
    if bias is not None:
        inits.append(numpy_helper.from_array(bias, "b"))
        names.append("b")
    graph = helper.make_graph([helper.make_node("ConvTranspose", names, ["y"], name="up", **attrs)], "g", inputs,
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


CASES = [(k, s, p, e) for k, s, p, e in itertools.product(
    [(1, 1), (2, 2), (3, 3), (4, 4), (3, 2), (5, 5)], [(1, 1), (2, 2), (3, 3), (2, 1)],
    [(0, 0, 0, 0), (1, 1, 1, 1), (2, 1, 0, 3), (3, 3, 3, 3)], [(0, 0), (1, 1), (1, 0)])
    if all(o < st for o, st in zip(e, s))]


@pytest.mark.parametrize("kernel, strides, pads, extra", CASES)
def test_the_lowered_graph_matches_onnxruntime_convtranspose(kernel, strides, pads, extra):
    weight = RNG.standard_normal((3, 5, *kernel)).astype(np.float32)
    model = _model(weight, RNG.standard_normal(5).astype(np.float32), strides=list(strides), pads=list(pads),
                   output_padding=list(extra))
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
    try:
        expected = _run(model, x)
    except Exception:  # ONNX Runtime refuses pads that crop the whole output: nothing to compare
        pytest.skip("ONNX Runtime cannot run this configuration")
    lowered = conv_transpose.rewrite(model)
    assert [n.op_type for n in lowered.graph.node if n.op_type in ("Conv", "ConvTranspose")] == ["Conv"]
    assert {t.name for t in lowered.graph.initializer}.isdisjoint({"w", "b"})  # replaced, not kept beside
    got = _run(lowered, x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("group, per_group", [(3, 2), (6, 1)])
def test_grouped_and_depthwise_convtranspose_lower_to_grouped_convs(group, per_group):
    weight = RNG.standard_normal((6, per_group, 3, 3)).astype(np.float32)
    model = _model(weight, RNG.standard_normal(group * per_group).astype(np.float32), x_shape=(1, 6, 5, 4),
                   group=group, strides=[2, 2], pads=[1, 0, 1, 1], output_padding=[1, 0])
    x = RNG.standard_normal((1, 6, 5, 4)).astype(np.float32)
    lowered = conv_transpose.rewrite(model)
    conv = next(n for n in lowered.graph.node if n.op_type == "Conv")
    assert next(a.i for a in conv.attribute if a.name == "group") == group
    np.testing.assert_allclose(_run(lowered, x), _run(model, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("why, model", [
    ("weights are a graph input", _model(np.ones((3, 4, 2, 2), np.float32), weight_input=True, strides=[2, 2])),
    ("dilated", _model(np.ones((3, 4, 2, 2), np.float32), strides=[2, 2], dilations=[2, 2])),
])
def test_what_it_cannot_lower_stays_a_convtranspose(why, model):
    assert [n.op_type for n in conv_transpose.rewrite(model).graph.node] == ["ConvTranspose"], why


@pytest.mark.parametrize("attrs", [dict(strides=[3, 2], output_shape=[10, 8]), dict(strides=[2, 2], output_shape=[7, 6]),
                                   dict(strides=[2, 2], auto_pad="SAME_UPPER"), dict(strides=[2, 3], auto_pad="SAME_LOWER"),
                                   dict(strides=[2, 2], dilations=[2, 1], output_shape=[11, 8])])
def test_output_shape_and_same_pads_become_explicit_pads_matching_onnxruntime(attrs):
    """TVM's importer ignores output_shape and auto_pad; weights that are a graph input keep the ConvTranspose."""
    from tests.unit.compile.onnx_nodes import run

    weight = RNG.standard_normal((3, 4, 3, 3)).astype(np.float32)
    model = _model(weight, weight_input=True, x_shape=(1, 3, 4, 3), **attrs)
    x = RNG.standard_normal((1, 3, 4, 3)).astype(np.float32)
    lowered = conv_transpose.rewrite(model)
    node = lowered.graph.node[0]
    assert node.op_type == "ConvTranspose" and {"output_shape", "auto_pad"}.isdisjoint(a.name for a in node.attribute)
    feeds = {"x": x, "w": weight}
    np.testing.assert_allclose(run(lowered, feeds)[0], run(model, feeds)[0], rtol=1e-5, atol=1e-5)
    if "dilations" not in attrs:  # constant weights: then the Conv + pixel shuffle lowering too
        model = _model(weight, x_shape=(1, 3, 4, 3), **attrs)
        lowered = conv_transpose.rewrite(model)
        assert "ConvTranspose" not in {n.op_type for n in lowered.graph.node}
        np.testing.assert_allclose(run(lowered, {"x": x})[0], run(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
