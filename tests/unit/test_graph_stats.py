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
