"""Channels-last conversion: bounds of a conv's epilogue stay in NHWC and leave the kernel's arguments."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import layout, relax


def test_clip_bounds_after_a_conv_become_immediate_clip_with_no_transpose_between(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    lo, hi = (numpy_helper.from_array(np.array(v, np.float32), n) for v, n in ((0.0, "lo"), (6.0, "hi")))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], [w, lo, hi])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    text = layout.to_nhwc()(relax.import_onnx(path)).script()
    assert "R.clip(" in text and "R.maximum(" not in text and "R.minimum(" not in text
    assert text.count("R.permute_dims(") == 2  # only the input and the output transpose
