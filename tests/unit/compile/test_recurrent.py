"""LSTM/GRU/RNN lowering: ONNX's own node test cases, and the attributes they leave out against ONNX Runtime."""

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import recurrent, relax
from edgebuild.compile.runner import HostModel
from edgebuild.errors import CompileError


def _cases():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some generators of other operators warn on import
        return {c.name: c for c in collect_testcases() if c.model.graph.node[0].op_type in recurrent.OPS}


CASES = _cases()


def _run(model, feed, tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    return HostModel(tmp_path / "m.so", list(feed))(feed)


def test_every_recurrent_operator_has_onnx_cases():
    assert {c.model.graph.node[0].op_type for c in CASES.values()} == set(recurrent.OPS)
    assert len(CASES) >= 18


@pytest.mark.parametrize("name", sorted(CASES))
def test_onnx_node_case(name, tmp_path):
    case = CASES[name]
    model = onnx.ModelProto.FromString(case.model.SerializeToString())
    inputs, expected = case.data_sets[0]
    feed = dict(zip([i.name for i in model.graph.input], inputs))
    got = _run(model, feed, tmp_path)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-3, atol=1e-4)


def _model(op, attrs, seq=5, batch=2, inp=3, hid=4, dirs=2, layout=0, states=True, peep=False):
    gates = recurrent.GATES[op]
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.uniform(-.6, .6, s).astype(np.float32), n) for n, s in
             (("W", (dirs, gates * hid, inp)), ("R", (dirs, gates * hid, hid)), ("B", (dirs, 2 * gates * hid)))]
    x_shape = [batch, seq, inp] if layout else [seq, batch, inp]
    st_shape = [batch, dirs, hid] if layout else [dirs, batch, hid]
    names = ["x", "W", "R", "B", "", "h0"] + (["c0"] if op == "LSTM" else [])
    if peep:
        names += ["P"]
        inits.append(numpy_helper.from_array(rng.uniform(-.6, .6, (dirs, 3 * hid)).astype(np.float32), "P"))
    if not states:
        names = names[:4]
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    if states:
        graph_inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, st_shape) for n in ("h0", "c0")[: 2 if op == "LSTM" else 1]]
    outputs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    node = helper.make_node(op, names, outputs, hidden_size=hid, layout=layout, **attrs)
    graph = helper.make_graph([node], "g", graph_inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    feed = {i.name: rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim]).astype(np.float32)
            for i in graph_inputs}
    return model, feed


@pytest.mark.parametrize("op, attrs, kw", [
    ("GRU", {"direction": "bidirectional", "linear_before_reset": 1, "clip": 0.5}, {}),
    ("GRU", {"direction": "reverse"}, {"dirs": 1, "layout": 1}),  # the reference evaluator ignores clip
    ("LSTM", {"direction": "bidirectional", "activations": ["HardSigmoid", "Tanh", "Tanh", "Sigmoid", "Relu", "Tanh"]}, {"peep": True}),
    ("LSTM", {"input_forget": 1}, {"dirs": 1}),
    ("LSTM", {}, {"dirs": 1, "layout": 1}),
    ("LSTM", {"direction": "reverse"}, {"dirs": 1, "states": False, "seq": 1}),
    ("RNN", {"direction": "bidirectional", "activations": ["LeakyRelu", "Tanh"], "activation_alpha": [0.3]}, {}),
    # hidden sizes past the kernel's register blocks (64 columns), with a tail: both matmul paths
    ("LSTM", {"direction": "bidirectional"}, {"hid": 40, "inp": 24, "seq": 9, "peep": True}),
    ("GRU", {"direction": "reverse"}, {"dirs": 1, "hid": 70, "inp": 16, "seq": 6}),
    ("GRU", {"linear_before_reset": 1}, {"dirs": 1, "hid": 64, "inp": 8, "seq": 4, "batch": 1}),
])
def test_against_a_reference(op, attrs, kw, tmp_path):
    """ONNX Runtime, or ONNX's reference evaluator for layout=1 (batch-first), which ORT refuses."""
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    model, feed = _model(op, attrs, **kw)
    if kw.get("layout"):
        expected = ReferenceEvaluator(model).run(None, feed)
    else:
        expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
    for g, e in zip(_run(model, feed, tmp_path), expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_input_projection_is_one_matmul_and_the_steps_one_node():
    model, _ = _model("LSTM", {"direction": "bidirectional"}, seq=7)
    lowered = recurrent.lower(model)
    matmuls = [n for n in lowered.graph.node if n.op_type == "MatMul"]
    assert not any(n.op_type in recurrent.OPS for n in lowered.graph.node)
    assert [n.output[0] for n in matmuls if "input_projection" in n.output[0]] == [matmuls[0].output[0]]
    assert len(matmuls) == 1  # the recurrent matmuls are in the kernel
    assert [n.op_type for n in lowered.graph.node].count(recurrent.STEPS_OP) == 1


def test_each_recurrent_node_is_one_kernel_over_all_steps(tmp_path):
    model, _ = _model("LSTM", {"direction": "bidirectional"}, seq=12)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    kernels = relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")["kernels"]
    assert [k for k, v in kernels.items() if v == "recurrent"] == ["lstm_steps"]
    assert len(kernels) < 12  # not a kernel per step


@pytest.mark.parametrize("given", ["constant", "input"])
def test_shorter_sequences_match_onnx_runtime(given, tmp_path):
    """Steps past a sequence's length are zeros, its states stop there, its reverse pass starts there."""
    import onnxruntime as ort

    model, feed = _model("LSTM", {"direction": "bidirectional"}, batch=3, seq=5)
    lens = np.array([5, 2, 3], np.int32)
    model.graph.node[0].input[4] = "lens"
    if given == "constant":
        model.graph.initializer.append(numpy_helper.from_array(lens, "lens"))
    else:
        model.graph.input.append(helper.make_tensor_value_info("lens", TensorProto.INT32, [3]))
        feed["lens"] = lens
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
    for g, e in zip(_run(model, feed, tmp_path), expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_a_dynamic_sequence_axis_is_refused_with_the_node_named():
    model, _ = _model("GRU", {}, dirs=1)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "time"
    model.graph.node[0].name = "encoder_gru"
    with pytest.raises(CompileError, match="GRU node 'encoder_gru': input X needs a static 3-d shape"):
        recurrent.lower(model)


def test_a_gpu_build_gets_the_gpu_kernel(tmp_path):
    """The kernel emitted at import is the CPU one; a GPU target gets it bound to GPU blocks, not run on the host."""
    import tvm

    from edgebuild.compile import pipeline

    model, _ = _model("GRU", {"direction": "bidirectional"})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    target = tvm.target.Target({"kind": "cuda", "arch": "sm_80", "max_num_threads": 1024, "thread_warp_size": 32,
                                "host": {"kind": "llvm"}})
    with target:
        lowered, kernels = pipeline.lower(relax.import_onnx(path), target, None)
    assert kernels["gru_steps"] == "recurrent"
    script = lowered["gru_steps"].script()
    assert "blockIdx.x" in script and "T.parallel" not in script
