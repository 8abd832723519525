"""Every operator family that meets a channels-last convolution converts correctly or keeps its layout.

Each case is Conv -> OPERATOR on NCHW activations, built through edgebuild's full CPU pipeline and
compared with ONNX Runtime."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import relax
from edgebuild.compile.runner import HostModel

RNG = np.random.default_rng(0)


def _const(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


# (family, nodes after the conv output "c" [1, 8, 8, 8] producing "y", extra initializers)
FAMILIES = {
    # constant weights: one channels-last Conv + pixel shuffle + crop (conv_transpose.py)
    "ConvTranspose": ([helper.make_node("ConvTranspose", ["c", "wt"], ["y"], strides=[2, 2])],
                      [_const("wt", RNG.standard_normal((8, 4, 2, 2)).astype(np.float32))]),
    "ConvTranspose pads/output_padding/bias": (
        [helper.make_node("ConvTranspose", ["c", "wt", "bt"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1],
                          output_padding=[1, 1]), helper.make_node("Relu", ["t"], ["y"])],
        [_const("wt", RNG.standard_normal((8, 4, 3, 3)).astype(np.float32)), _const("bt", RNG.standard_normal(4).astype(np.float32))]),
    "ConvTranspose depthwise": ([helper.make_node("ConvTranspose", ["c", "wt"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1],
                                                  output_padding=[1, 1], group=8)],
                                [_const("wt", RNG.standard_normal((8, 1, 3, 3)).astype(np.float32))]),
    # dilated: not rewritten; TVM has no channels-last conv2d_transpose, so it keeps NCHW (layout.DESIRED)
    "ConvTranspose dilated": ([helper.make_node("ConvTranspose", ["c", "wt"], ["y"], strides=[2, 2], dilations=[2, 2])],
                              [_const("wt", RNG.standard_normal((8, 4, 3, 3)).astype(np.float32))]),
    "MaxPool": ([helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])], []),
    "AveragePool": ([helper.make_node("AveragePool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], []),
    "GlobalAveragePool": ([helper.make_node("GlobalAveragePool", ["c"], ["y"])], []),
    "Resize": ([helper.make_node("Resize", ["c", "", "scales"], ["y"], mode="nearest")],
               [_const("scales", np.array([1, 1, 2, 2], np.float32))]),
    "Concat": ([helper.make_node("Relu", ["c"], ["r"]), helper.make_node("Concat", ["c", "r"], ["y"], axis=1)], []),
    "Softmax": ([helper.make_node("Softmax", ["c"], ["y"], axis=1)], []),
    "ReduceMean": ([helper.make_node("ReduceMean", ["c", "axes"], ["y"], keepdims=1)], [_const("axes", np.array([1], np.int64))]),
    "Pad": ([helper.make_node("Pad", ["c", "pads"], ["y"])], [_const("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))]),
    "Split": ([helper.make_node("Split", ["c", "parts"], ["a", "b"], axis=1), helper.make_node("Concat", ["b", "a"], ["y"], axis=1)],
              [_const("parts", np.array([3, 5], np.int64))]),
    "Slice": ([helper.make_node("Slice", ["c", "s", "e", "ax"], ["y"])],
              [_const("s", np.array([2, 1], np.int64)), _const("e", np.array([6, 7], np.int64)), _const("ax", np.array([1, 3], np.int64))]),
    "DepthToSpace": ([helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=2)], []),
    "PRelu": ([helper.make_node("PRelu", ["c", "slope"], ["y"])], [_const("slope", RNG.uniform(0, .5, (8, 1, 1)).astype(np.float32))]),
    "BatchNormalization": ([helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["y"])],
                           [_const(n, RNG.uniform(.5, 1.5, 8).astype(np.float32)) for n in ("g", "b", "m", "v")]),
    # variadic and broadcasting: imported as pairwise maximum/minimum, which ConvertLayout places
    "Max/Min": ([helper.make_node("Max", ["c", "k"], ["m"]), helper.make_node("Min", ["m", "c", "k2"], ["y"])],
                [_const("k", np.float32(0.1)), _const("k2", RNG.standard_normal((8, 1, 1)).astype(np.float32))]),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_operator_after_a_channels_last_conv_matches_onnxruntime(family, tmp_path):
    nodes, inits = FAMILIES[family]
    w = _const("w", RNG.standard_normal((8, 3, 3, 3)).astype(np.float32))
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), *nodes], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, *inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = HostModel(tmp_path / "m.so", ["x"])({"x": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)



def test_a_1d_conv_runs_as_a_2d_conv_and_matches_onnxruntime(tmp_path):
    w = _const("w", RNG.standard_normal((6, 2, 5)).astype(np.float32))
    b = _const("b", RNG.standard_normal(6).astype(np.float32))
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[3], pads=[2, 1], dilations=[2])],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 40])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert "R.nn.conv2d(" in relax.import_onnx(path).script()
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    x = RNG.standard_normal((1, 2, 40)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(HostModel(tmp_path / "m.so", ["x"])({"x": x})[0], expected, rtol=1e-4, atol=1e-4)
