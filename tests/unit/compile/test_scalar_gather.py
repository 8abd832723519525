"""A Gather with one constant index becomes Slice + Squeeze with the same values (no TVM needed)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from edgebuild.compile import scalar_gather


def _model(index, axis, idx_shape=()):
    k = numpy_helper.from_array(np.array(index, np.int64).reshape(idx_shape), "k")
    graph = helper.make_graph([helper.make_node("Gather", ["x", "k"], ["y"], axis=axis)], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [k])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_scalar_gathers_become_slices_with_the_same_values():
    x = np.arange(30, dtype=np.float32).reshape(2, 5, 3)
    for index, axis in ((3, 1), (-1, 1), (0, -1), (-2, 0)):
        model = _model(index, axis)
        rewritten = scalar_gather.rewrite(model)
        assert [n.op_type for n in rewritten.graph.node] == ["Slice", "Squeeze"]
        expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
        np.testing.assert_array_equal(ReferenceEvaluator(rewritten).run(None, {"x": x})[0], expected)


def test_index_arrays_are_left_alone():
    model = _model([1], 1, idx_shape=(1,))
    assert scalar_gather.rewrite(model) is model
