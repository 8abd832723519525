"""Gates when ONNX Runtime cannot run the graph: the fp32 reference is edgebuild's own build; without
one the gate cannot be evaluated and the build fails, saying why."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compress import Pipeline, load
from edgebuild.errors import GateFailed
from edgebuild.models import onnx_file


def graph_ort_refuses(tmp_path):
    """y = x @ w, declared at an opset newer than this ONNX Runtime implements (so ORT refuses it)."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)]), str(path))
    model = onnx_file.load(path)
    return path, model, model.inputs(), onnx.numpy_helper.to_array(w)


def numpy_build(weights):
    """A stand-in for edgebuild's fp32 host build of the graph (the real one is flows.build._fp32_build)."""
    built = []

    def build(proto):
        built.append(proto)
        return lambda inputs: [inputs["x"] @ weights]

    return build, built


def test_fp32_reference_comes_from_edgebuilds_build_when_ort_cannot_run_the_graph(project, tmp_path):
    path, model, specs, w = graph_ort_refuses(tmp_path)
    pipeline = Pipeline(load(project, "int8-dynamic"), model, specs, say=lambda _: None, calibration="random")
    build, built = numpy_build(w)
    pipeline.graph_steps(path, build)
    assert len(built) == 1 and pipeline.baseline["source"] == "edgebuild"
    assert "onnxruntime cannot run this graph" in pipeline.baseline["notes"][0]
    assert pipeline.rows[0]["after"] is None and "onnxruntime" in pipeline.rows[0]["notes"]
    runner = lambda inputs: [(inputs["x"] @ w).astype(np.float16).astype(np.float32)]  # noqa: E731
    metrics = {}
    table = pipeline.finish(metrics, path, runner)
    assert metrics["cosine_to_fp32"] > 0.999 and table[-1]["metric"] == "cosine_to_fp32"


def test_a_gate_without_an_fp32_reference_fails_the_build_and_says_why(project, tmp_path):
    path, model, specs, w = graph_ort_refuses(tmp_path)
    pipeline = Pipeline(load(project, "int8-dynamic"), model, specs, say=lambda _: None, calibration="random")
    pipeline.graph_steps(path)  # no fp32 build to fall back on
    with pytest.raises(GateFailed, match="cannot be evaluated.*onnxruntime cannot run this graph"):
        pipeline.finish({}, path, lambda inputs: [inputs["x"] @ w])
