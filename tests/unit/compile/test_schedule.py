"""Schedule rules on small real graphs: which rule each kernel gets, what it does, and that the
scheduled build still computes what ONNX Runtime computes."""

from collections import Counter

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import padding, pipeline, relax, schedule
from edgebuild.compile.schedule import gemm


def detector_head(tmp_path):
    """x (1,16,8,8) -> two 1x1 convs (65 and 23 channels) with SiLU -> channel concat -> NHWC transpose."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
             (("w1", (65, 16, 1, 1)), ("b1", (65,)), ("w2", (23, 16, 1, 1)))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("Sigmoid", ["c1"], ["s1"]),
        helper.make_node("Mul", ["c1", "s1"], ["a1"]),
        helper.make_node("Conv", ["x", "w2"], ["c2"]),
        helper.make_node("Concat", ["a1", "c2"], ["cat"], axis=1),
        helper.make_node("Transpose", ["cat"], ["y"], perm=[0, 2, 3, 1]),
    ]
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 88])], inits)
    path = tmp_path / "head.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    return detector_head(tmp_path_factory.mktemp("head"))


@pytest.mark.parametrize("channels, vec, padded", [
    (65, 16, 80), (20, 16, 24), (12, 16, 16), (24, 16, 24), (40, 16, 40), (1000, 16, 1000), (3, 16, 3),
    (65, 4, 68), (64, 4, 64), (65, 8, 72),
])
def test_padded_channels(channels, vec, padded):
    assert padding.padded_channels(channels, vec) == padded


def test_odd_output_channels_are_padded_and_sliced_and_sigmoid_is_vectorisable(head):
    target = relax.host_target()
    fused = pipeline.fuse(relax.import_onnx(head), target)
    text = fused.script()
    wide = padding.padded_channels(65, schedule.params_for(target).vec)  # 80 with AVX-512, 72 with AVX2
    assert wide > 65 and f"T.int64({wide})" in text and "strided_slice" in text  # 65 conv channels computed wide
    assert "fast_exp" in text and "sigmoid" not in text.lower()


def test_every_kernel_gets_a_rule_and_layout_kernels_stay_contiguous(head):
    target = relax.host_target()
    fused = pipeline.fuse(relax.import_onnx(head), target)
    scheduled, kinds = schedule.schedule_module(fused, target)
    stats = Counter(kinds.values())
    assert stats["gemm"] == 2 and stats["none"] == 0, stats
    kernels = {gv.name_hint: f.script() for gv, f in scheduled.functions.items() if "concat" in gv.name_hint}
    (concat,) = kernels.values()
    # channels are the contiguous innermost axis of every input: vectorised with lanes dividing the 88
    # channels (16 would straddle two pixels and gather)
    assert "T.vectorized(T.int64(8))" in concat and "T.vectorized(T.int64(16))" not in concat


def test_scheduled_build_matches_onnxruntime(head, tmp_path):
    import onnxruntime as ort

    from edgebuild.compile.runner import HostModel

    relax.compile_host(relax.import_onnx(head), tmp_path / "m.so")
    x = np.random.default_rng(1).standard_normal((1, 16, 8, 8)).astype(np.float32)
    (got,) = HostModel(tmp_path / "m.so", ["x"])({"x": x})
    (want,) = ort.InferenceSession(str(head), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert got.shape == (1, 8, 8, 88)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


AVX2 = schedule.Params(vec=8, max_acc=12, conv_max_acc=10)


@pytest.mark.parametrize("m, n, tile", [
    (97, 264, (3, 24)),  # prime width: 1-row whole tiles, or 3-row tiles with a predicated tail
    (7, 1024, (7, 8)),  # the tail's 2x32 tile scores better but does not clearly win: whole tiles
    (56, 64, (2, 32)),  # divisible widths keep their whole tiles
])
def test_row_tiles_take_a_tail_only_when_it_clearly_wins(m, n, tile):
    assert gemm.choose_tile(m, n, AVX2, AVX2.conv_max_acc) == tile


def padded_odd_width_conv(tmp_path):
    """x (1,4,3,97) -> 3x3 conv, pad 1, 24 channels, ReLU -> 1x1 conv, stride 2: a real padding, a
    width whose row tiles leave a tail, and a zero padding (TVM's plain-copy pad_temp)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
             (("w1", (24, 4, 3, 3)), ("b1", (24,)), ("w2", (16, 24, 1, 1)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["y"], strides=[2, 2])]
    graph = helper.make_graph(nodes, "odd", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 97])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 2, 49])], inits)
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_padding_stays_out_of_the_micro_kernel_and_tails_compute_right(tmp_path):
    import onnxruntime as ort

    from edgebuild.compile.runner import HostModel

    path = padded_odd_width_conv(tmp_path)
    target = relax.host_target()
    scheduled, kinds = schedule.schedule_module(pipeline.fuse(relax.import_onnx(path), target), target)
    convs = {gv.name_hint: f.script() for gv, f in scheduled.functions.items() if "conv2d" in gv.name_hint}
    assert len(convs) == 2 and all(kinds[k] == "gemm" for k in convs), kinds
    padded = next(text for text in convs.values() if "if_then_else" in text)
    # the bounds test lives in its own block; the multiply-accumulate reads the padded buffer
    mac = [line for line in padded.splitlines() if "] = conv2d_nhwc_intermediate[" in line]
    assert mac and not any("if_then_else" in line for line in mac)
    assert sum("pad_temp" not in text for text in convs.values()) == 1  # the zero padding's copy inlined
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    x = np.random.default_rng(1).standard_normal((1, 4, 3, 97)).astype(np.float32)
    (got,) = HostModel(tmp_path / "m.so", ["x"])({"x": x})
    (want,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
