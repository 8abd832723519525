import numpy as np
import onnx
from onnx import TensorProto, helper

from edgebuild.graph_stats import stats


def test_params_bytes_and_macs_of_conv_and_matmul(tmp_path):
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], np.zeros(216, np.float32))
    m = helper.make_tensor("m", TensorProto.FLOAT, [8 * 4 * 4, 10], np.zeros(1280, np.float32))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("Flatten", ["c"], ["f"]),
         helper.make_node("MatMul", ["f", "m"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w, m])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    got = stats(path)
    assert got["params"] == 216 + 1280 and got["weight_bytes"] == 4 * (216 + 1280)
    assert got["macs"] == 8 * 4 * 4 * 27 + 128 * 10


def test_macs_of_qgemm_whose_output_shape_inference_cannot_give(tmp_path):
    """com.microsoft QGemm (int8-static's linear layers): MACs from A and B's shapes, transB honoured."""
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.1]), helper.make_tensor("z", TensorProto.INT8, [], [0]),
             helper.make_tensor("b", TensorProto.INT8, [24, 32], np.zeros(768, np.int8))]
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
         helper.make_node("QGemm", ["xq", "s", "z", "b", "s", "z"], ["y"], domain="com.microsoft", transB=1)],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "q.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, str(path))
    assert stats(path)["macs"] == 8 * 24 * 32
