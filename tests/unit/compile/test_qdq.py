"""QDQ graphs as ONNX Runtime's quantizer writes them become integer operators before import."""

import numpy as np
import onnx

from edgebuild.compile import qdq

from . import quantized_graphs as qg
from tests.conftest import library_bytes


def test_qdq_groups_become_integer_operators_that_onnxruntime_computes_identically(tmp_path):
    model, inputs = qg.conv_net()
    path = qg.quantize(model, inputs, tmp_path, "QDQ", "int8")
    rewritten, count = qdq.to_qoperator(onnx.load(str(path)))
    ops = [n.op_type for n in rewritten.graph.node]
    assert count == 4 and ops.count("QLinearConv") == 3 and "QGemm" in ops
    assert "Conv" not in ops and "Gemm" not in ops
    # no DequantizeLinear of a weight is left to fold into float32
    inits = {i.name for i in rewritten.graph.initializer}
    assert not [n for n in rewritten.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    out = tmp_path / "rewritten.onnx"
    onnx.save(rewritten, str(out))
    assert np.array_equal(qg.ort_unfused(out, inputs)[0], qg.ort_unfused(path, inputs)[0])


def test_unquantized_output_becomes_conv_integer_with_float_scaling(tmp_path):
    """A QDQ conv whose result feeds a float operator: ConvInteger, then x_scale * w_scale and the bias;
    the other convs and the Gemm of the same graph as QLinearConv / QGemm."""
    model, inputs = qg.conv_net()
    path = qg.quantize(model, inputs, tmp_path, "QDQ", "uint8")
    graph = onnx.load(str(path))
    conv = next(n for n in graph.graph.node if n.name == "pw")  # feeds SiLU only, no other conv
    q = next(n for n in graph.graph.node if list(n.input)[:1] == [conv.output[0]])
    dqs = [n for n in graph.graph.node if list(n.input)[:1] == [q.output[0]]]
    for node in graph.graph.node:  # the conv's consumers read its float result instead of Q -> DQ
        node.input[:] = [conv.output[0] if name in {d.output[0] for d in dqs} else name for name in node.input]
    for node in [q, *dqs]:
        graph.graph.node.remove(node)
    loose = tmp_path / "loose.onnx"
    onnx.save(graph, str(loose))
    rewritten, _ = qdq.to_qoperator(graph)
    assert "ConvInteger" in [n.op_type for n in rewritten.graph.node]
    _check(loose, inputs)  # (ONNX Runtime's ConvInteger takes no per-channel weight zero points)


def test_ort_qdq_transformer_block_with_uint8_activations_matches_onnxruntime(tmp_path):
    model, inputs = qg.transformer_block()
    path = qg.quantize(model, inputs, tmp_path, "QDQ", "uint8")
    _check(path, inputs)


def _check(path, inputs):
    """int8 conv/matmul only, int8 weights in model.so, within one output step of ONNX Runtime."""
    mod, so = qg.build(path)
    ops = qg.heavy_ops(mod)
    assert ops and all(ins == ("int8", "int8") and out == "int32" for _, ins, out in ops), ops  # no float conv/matmul
    data = library_bytes(so)
    assert all(qg.stored_int8(w, data) for w in qg.int8_weights(path))
    (want,) = qg.ort_unfused(path, inputs)
    (got,) = qg.run(so, inputs)
    assert np.abs(got - want).max() <= qg.output_step(path) * 1.0001
