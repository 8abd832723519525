"""Folding Relu / Clip (ReLU6) / MaxPool chains between int8 convs into int8: fewer float round trips,
results within one output step of ONNX Runtime's unfolded graph, and the clip bounds kept."""

from __future__ import annotations

import numpy as np
import pytest

from edgebuild.compress.int8_fuse import fold_relu_chains


def quantized_chain(tmp_path, activation: str):
    """Conv -> activation -> MaxPool -> Conv, quantized by ONNX Runtime as the int8-static step does."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((4, 8, 1, 1)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.float32(-1.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi")]
    act = {"Relu": helper.make_node("Relu", ["a"], ["r"]),
           "Clip": helper.make_node("Clip", ["a", "", "hi"], ["r"]),  # no min: int8's own -128
           "Clip-min": helper.make_node("Clip", ["a", "lo", "hi"], ["r"])}[activation]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], pads=[1, 1, 1, 1]), act,
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["p", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    src, dst = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    onnx.save(model, str(src))
    samples = iter([{"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32) * 2} for _ in range(8)])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(samples, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    return model, onnx.load(str(dst))


def run(proto, x, outputs=("y",)):
    import onnxruntime as ort
    from onnx import TensorProto, helper

    copy = type(proto)()
    copy.CopyFrom(proto)
    for name in outputs:
        if name not in {o.name for o in copy.graph.output}:
            copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.INT8, None))
    session = ort.InferenceSession(copy.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(list(outputs), {"x": x})


@pytest.mark.parametrize("activation", ["Relu", "Clip", "Clip-min"])
def test_activation_chains_between_int8_convs_fold_into_int8(tmp_path, activation):
    from onnx import numpy_helper

    fp32, quantized = quantized_chain(tmp_path, activation)
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32) * 2
    (unfolded,) = run(quantized, x)
    folded_proto, folded = fold_relu_chains(quantized)
    assert folded == 1
    ops = [n.op_type for n in folded_proto.graph.node]
    assert "Relu" not in ops and ops.count("DequantizeLinear") == 1 and ops.count("QuantizeLinear") == 1, ops
    clip = next(n for n in folded_proto.graph.node if n.op_type == "Clip")
    inits = {i.name: numpy_helper.to_array(i) for i in folded_proto.graph.initializer}
    scale = float(inits[next(n for n in folded_proto.graph.node if n.op_type == "QLinearConv").input[6]])
    lo = int(inits[clip.input[1]])
    assert lo == {"Relu": 0, "Clip": -128, "Clip-min": round(-1.0 / scale)}[activation]
    y, p = run(folded_proto, x, ("y", "p"))
    assert p.dtype == np.int8 and p.min() >= lo  # the MaxPool now runs on int8, inside the clip's range
    (want,) = run(fp32, x)
    # one requantization instead of two: at least as close to the fp32 graph, and close to the unfolded one
    assert np.abs(y - want).mean() <= np.abs(unfolded - want).mean() * 1.05
    assert float(y.ravel() @ unfolded.ravel() / np.linalg.norm(y) / np.linalg.norm(unfolded)) > 0.999
