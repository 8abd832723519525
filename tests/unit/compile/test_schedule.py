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


def test_avx512_matmul_tiles_stay_in_registers():
    # 24 accumulators of 16 floats (1.5 KiB) exceed TVM's 1 KiB stack limit: each tile's buffer was heap
    # workspace, allocated, zeroed by memset and freed in the thread-pool body around every tile.
    from tvm import relax as rx

    from tests.unit.compile.test_int8_kernels import X86, asm, calls, functions

    bb = rx.BlockBuilder()
    x = rx.Var("x", rx.TensorType((128, 384), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            y = bb.emit(rx.op.matmul(x, rx.const(np.random.default_rng(0).random((384, 384), np.float32))))
            out = bb.emit_output(rx.op.nn.relu(y))
        bb.emit_func_output(out)
    _, lambdas = functions(asm({**X86, "mcpu": "skylake-avx512"}, bb.get()), "matmul")
    assert lambdas and not calls(lambdas)


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


def test_whole_tensor_reductions_run_as_parallel_partials_and_match_onnxruntime(tmp_path):
    import onnxruntime as ort

    from edgebuild.compile.runner import HostModel

    # the reductions of run-time quantization (DynamicQuantizeLinear) and a sum; 1000 elements divide
    # by no chunks x lanes multiple and keep the serial loop
    nodes = [helper.make_node(op, [x], [f"{op}_{x}"], keepdims=0)
             for op in ("ReduceMin", "ReduceMax", "ReduceSum") for x in ("a", "b")]
    graph = helper.make_graph(nodes, "r", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [128, 1536]),
                                           helper.make_tensor_value_info("b", TensorProto.FLOAT, [8, 125])],
                              [helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, []) for n in nodes])
    path = tmp_path / "r.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    target = relax.host_target()
    _, kinds = pipeline.lower(relax.import_onnx(path), target, None)
    assert sorted(kinds.values()).count("reduce_full") == 3, kinds  # the three over a
    relax.compile_host(relax.import_onnx(path), tmp_path / "r.so")
    rng = np.random.default_rng(0)
    feeds = {"a": rng.standard_normal((128, 1536)).astype(np.float32),
             "b": rng.standard_normal((8, 125)).astype(np.float32)}
    got = HostModel(tmp_path / "r.so", ["a", "b"])(feeds)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for g, w, n in zip(got, want, nodes):
        if n.op_type == "ReduceSum":  # summed in another order: compared with the float64 sum instead
            x = feeds[n.input[0]].astype(np.float64)
            assert abs(float(g) - x.sum()) <= 1e-8 * np.abs(x).sum(), (n.output[0], float(g), x.sum(), float(w))
        else:
            assert g == w, (n.output[0], g, w)


def test_row_reductions_run_as_vector_lane_partials_and_match_onnxruntime(tmp_path):
    import onnxruntime as ort

    from edgebuild.compile.runner import HostModel

    # attention's softmax and a transformer's layer norm: rows of 128 and 384
    scale, bias = (numpy_helper.from_array(np.full(384, v, np.float32), n) for v, n in ((1.5, "g"), (0.25, "b")))
    nodes = [helper.make_node("Softmax", ["s"], ["p"], axis=-1),
             helper.make_node("LayerNormalization", ["h", "g", "b"], ["n"], axis=-1)]
    graph = helper.make_graph(nodes, "rows", [helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 12, 128, 128]),
                                              helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, 128, 384])],
                              [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 12, 128, 128]),
                               helper.make_tensor_value_info("n", TensorProto.FLOAT, [1, 128, 384])], [scale, bias])
    path = tmp_path / "rows.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    scheduled, kinds = pipeline.lower(relax.import_onnx(path), relax.host_target(), None)
    softmax = [f.script() for gv, f in scheduled.functions.items() if "softmax" in gv.name_hint]
    assert softmax and "T_softmax_maxelem_rf" in softmax[0] and "T_softmax_expsum_rf" in softmax[0], kinds
    relax.compile_host(relax.import_onnx(path), tmp_path / "rows.so")
    rng = np.random.default_rng(0)
    feeds = {"s": 4 * rng.standard_normal((1, 12, 128, 128)).astype(np.float32),
             "h": rng.standard_normal((1, 128, 384)).astype(np.float32)}
    got = HostModel(tmp_path / "rows.so", ["s", "h"])(feeds)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
