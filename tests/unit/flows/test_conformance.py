"""Conformance cases: scope, folding of shape inputs, comparison, the CI sample's rule, crash isolation."""

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgebuild.flows import conformance
from edgebuild.flows.conformance_cases import collect, compare, fold_shape_inputs, out_of_scope


def reshape_model(shape_dtype=TensorProto.INT64):
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("shape", shape_dtype, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_shape_inputs_are_folded_to_the_case_values():
    names, folded = fold_shape_inputs(reshape_model(), {"shape": np.array([3, 2], np.int64)})
    assert names == ["shape"] and [v.name for v in folded.graph.input] == ["x"]
    assert onnx.numpy_helper.to_array(folded.graph.initializer[0]).tolist() == [3, 2]


def test_a_function_expansion_folds_the_graph_inputs_its_operator_would():
    """Range's expansion (a Loop) has no Range node; start, limit and delta still set its output's shape."""
    case = next(c for c in collect({"rangeop"}) if c.name == "test_range_float_type_positive_delta_expanded")
    assert case.op == "Range" and case.folded == ["start", "limit", "delta"] and case.build_inputs == {}


def test_scalar_inputs_are_arrays_as_onnxruntime_takes_them():
    case = next(c for c in collect({"clip"}) if c.name == "test_clip")
    assert all(isinstance(v, np.ndarray) for v in case.inputs.values())


def test_out_of_scope_types_are_named():
    assert out_of_scope(reshape_model(), [], []) is None
    assert out_of_scope(reshape_model(TensorProto.BFLOAT16), [], []) == "dtype bfloat16"
    assert out_of_scope(reshape_model(TensorProto.DOUBLE), [], []) == "dtype double"


def test_compare_checks_shape_dtype_and_tolerance():
    want = [np.array([1.0, 2.0], np.float32)]
    assert compare([np.array([1.0, 2.0005], np.float32)], want) is None
    assert "max |diff|" in compare([np.array([1.0, 2.01], np.float32)], want)
    assert "shape" in compare([np.array([[1.0, 2.0]], np.float32)], want)
    assert "dtype" in compare([np.array([1, 2], np.int64)], want)


def test_a_hung_or_dead_worker_costs_one_case_and_the_run_goes_on(project):
    cases = [c for c in collect({"relu"}) if c.out_of_scope is None][:2]
    results = conformance.run_batch(project, cases, ("onnxruntime",), timeout=0.05)
    assert [results[c.name]["onnxruntime"]["status"] for c in cases] == ["timeout", "timeout"]
    results = conformance.run_batch(project, cases, ("onnxruntime",), timeout=120)
    assert [results[c.name]["onnxruntime"]["status"] for c in cases] == ["pass", "pass"]


def test_cases_stored_as_tensor_protos_become_arrays():
    (case,) = [c for c in collect({"cast"}) if c.name == "test_cast_FLOAT16_to_FLOAT"]
    assert case.inputs["input"].dtype == np.float16 and case.outputs[0].dtype == np.float32


def test_cases_are_found_after_onnx_itself_imported_their_modules(monkeypatch):
    """onnx's collect_testcases() (another test may call it first) imports every generator module;
    the cases must still be found, once each, and onnx's own list must not grow."""
    from edgebuild.flows import conformance_cases
    from onnx.backend.test.case import node

    node.collect_testcases()
    before = len(node._NodeTestCases)
    monkeypatch.setattr(conformance_cases, "_BY_MODULE", {})
    names = [c.name for c in collect({"relu", "abs"})]
    assert names == ["test_abs", "test_relu", "test_relu_expanded_ver18"] and len(node._NodeTestCases) == before
