"""Float convs and matmuls on packed weights: the same outputs as ONNX Runtime (convs with any stride,
padding and dilation; Gemm with transB, MatMul with batch dims), the packed weight in the fused kernel,
and the given layout kept where packing does not apply."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import weight_pack, pipeline, relax as erelax, schedule
from tests.unit.compile.onnx_nodes import run


def test_pack_weight_puts_each_vector_of_output_channels_contiguous_per_tap():
    w = np.arange(2 * 3 * 5 * 16, dtype=np.float32).reshape(2, 3, 5, 16)
    packed = weight_pack.pack_weight(w, 8)
    assert packed.shape == (2, 2, 3, 5, 8)
    assert np.array_equal(packed[1, 1, 2, 4], w[1, 2, 4, 8:16])
    assert np.array_equal(weight_pack.pack_weight(w[0, 0], 4)[3, 2], w[0, 0, 2, 12:16])


def conv_graph(folder, cin, cout, kernel, pads, strides, dilations, group=1, relu=True):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((cout, cin // group, *kernel)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(cout).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c" if relu else "y"], pads=list(pads), strides=list(strides),
                              dilations=list(dilations), group=group)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 13, 11])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "conv.onnx"
    onnx.save(model, str(path))
    return path, model


CASES = {  # cin, cout, kernel, pads, strides, dilations
    "3x3 same": (16, 32, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1)),
    "1x1 stride 2": (24, 64, (1, 1), (0, 0, 0, 0), (2, 2), (1, 1)),
    "5x3 asymmetric pads, stride 2, dilation 2": (8, 16, (5, 3), (2, 0, 1, 3), (2, 1), (2, 2)),
    "7x7 stride 2 on 3 channels (a stem)": (3, 16, (7, 7), (3, 3, 3, 3), (2, 2), (1, 1)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_packed_convs_match_onnx_runtime(tmp_path, case):
    from edgebuild.compile.runner import HostModel

    path, model = conv_graph(tmp_path, *CASES[case])
    target = erelax.host_target()
    fused = pipeline.fuse(erelax.import_onnx(path), target)
    vec = schedule.params_for(target).vec
    assert _weight_shapes(fused) == [(CASES[case][1] // vec, *CASES[case][2], CASES[case][0], vec)]
    so = tmp_path / "conv.so"
    erelax.compile_host(erelax.import_onnx(path), so)
    x = np.random.default_rng(1).standard_normal((1, CASES[case][0], 13, 11)).astype(np.float32)
    got = HostModel(so, ["x"])({"x": x})[0]
    np.testing.assert_allclose(got, run(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_grouped_convs_and_partial_vectors_keep_hwio(tmp_path):
    target = erelax.host_target()
    vec = schedule.params_for(target).vec
    grouped, _ = conv_graph(tmp_path, 16, 32, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), group=2)
    assert len(_weight_shapes(pipeline.fuse(erelax.import_onnx(grouped), target))[0]) == 4
    odd, _ = conv_graph(tmp_path, 16, vec // 2, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1))  # half a vector: not padded
    assert _weight_shapes(pipeline.fuse(erelax.import_onnx(odd), target)) == [(3, 3, 16, vec // 2)]


MATMULS = {  # op, x shape, weight shape as the graph holds it, attributes
    "Gemm transB": ("Gemm", (5, 24), (32, 24), {"transB": 1}),
    "MatMul with batch dims": ("MatMul", (2, 3, 7, 24), (24, 16), {}),
}


@pytest.mark.parametrize("case", list(MATMULS))
def test_packed_matmuls_match_onnx_runtime(tmp_path, case):
    from edgebuild.compile.runner import HostModel

    op, x_shape, w_shape, attrs = MATMULS[case]
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32), "w")]
    node = helper.make_node(op, ["x", "w"], ["y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "mm.onnx"
    onnx.save(model, str(path))
    target = erelax.host_target()
    vec = schedule.params_for(target).vec
    n = w_shape[0] if attrs.get("transB") else w_shape[1]
    assert _weight_shapes(pipeline.fuse(erelax.import_onnx(path), target), "matmul") == [(n // vec, x_shape[-1], vec)]
    so = tmp_path / "mm.so"
    erelax.compile_host(erelax.import_onnx(path), so)
    x = rng.standard_normal(x_shape).astype(np.float32)
    np.testing.assert_allclose(HostModel(so, ["x"])({"x": x})[0], run(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_a_matmul_of_two_split_activations_keeps_its_layout_and_matches(tmp_path):
    # The right operand is bound to a tuple item (Split's output), not to a call: no constant to pack.
    from edgebuild.compile.runner import HostModel

    nodes = [helper.make_node("Split", ["x"], ["a", "b"], axis=0, num_outputs=2),
             helper.make_node("MatMul", ["a", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    path = tmp_path / "mm.onnx"
    onnx.save(model, str(path))
    assert _weight_shapes(pipeline.fuse(erelax.import_onnx(path), erelax.host_target()), "matmul") == [(1, 8, 8)]
    so = tmp_path / "mm.so"
    erelax.compile_host(erelax.import_onnx(path), so)
    x = np.random.default_rng(0).standard_normal((2, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(HostModel(so, ["x"])({"x": x})[0], run(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def _weight_shapes(fused, kind: str = "conv2d") -> list[tuple[int, ...]]:
    """The shape of the second parameter (the weight) of each kernel whose name has `kind`."""
    import re

    from tvm import tirx

    shapes = []
    for gv, func in fused.functions.items():
        if isinstance(func, tirx.PrimFunc) and kind in gv.name_hint:
            text = re.sub(r"T\.int64\((\d+)\)", r"\1", func.script())
            head = text[text.index("def main("):text.index("\n", text.index("def main("))]
            weight = re.findall(r"T\.Buffer\(\(([\d, ]*)\)", head)[1]
            shapes.append(tuple(int(d) for d in weight.split(",") if d.strip()))
    return shapes
