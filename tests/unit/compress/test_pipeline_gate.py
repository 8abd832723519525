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


def test_a_check_after_each_pytorch_step_can_stop_before_the_next(project, tmp_path):
    """The search's proxy sees the table after every PyTorch step and stops a weak point early."""
    import torch

    from edgebuild import compress, models

    (tmp_path / "two.toml").write_text('description = "two torch steps"\n'
                                       '[[steps]]\ntechnique = "prune"\nsparsity = 0.5\nfine-tune-steps = 0\n'
                                       '[[steps]]\ntechnique = "prune"\nsparsity = 0.7\nfine-tune-steps = 0\n')
    model = models.resolve("digits-cnn", project)
    recipe = compress.resolve(project, str(tmp_path / "two.toml"))[0].for_model(model.name)

    class Stop(Exception):
        pass

    def stop(rows):
        raise Stop(rows[-1]["after"])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 1,500 one-image predictions: a second thread only adds waits (77 s vs 5 s under load)
    try:
        seen = []
        Pipeline(recipe, model, model.inputs(), say=lambda _: None).torch_steps(model.load(),
                                                                               lambda rows: seen.append(len(rows)))
        assert seen == [1, 2]
        pipeline = Pipeline(recipe, model, model.inputs(), say=lambda _: None)
        with pytest.raises(Stop):
            pipeline.torch_steps(model.load(), stop)
        assert len(pipeline.rows) == 1  # the second step never ran
    finally:
        torch.set_num_threads(threads)
