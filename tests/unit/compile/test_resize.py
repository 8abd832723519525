"""ONNX Resize as opsets 10-12 write it (empty roi and scales beside sizes) imports and matches ONNX Runtime."""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import relax
from edgebuild.compile.runner import HostModel


def test_resize_to_sizes_with_empty_roi_and_scales_matches_onnxruntime(tmp_path):
    empty = numpy_helper.from_array(np.zeros(0, np.float32), "empty")
    sizes = numpy_helper.from_array(np.array([1, 3, 12, 10], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "empty", "empty", "sizes"], ["y"], mode="linear",
                            coordinate_transformation_mode="pytorch_half_pixel")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [empty, sizes])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 5)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(HostModel(tmp_path / "m.so", ["x"])({"x": x})[0], expected, rtol=1e-5, atol=1e-5)
