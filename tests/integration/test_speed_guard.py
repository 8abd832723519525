"""The speed guard on real bundles: a build of an int8 recipe, as `invoke build` runs it, times it against
its fp32 build and reports the figures (--json carries them); a genuinely heavier int8 bundle (64x the
batch of its fp32 peer) is found slower, and the measurement is cached outside the bundles."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild import bundle, cli
from edgebuild.flows import speed_guard
from edgebuild.flows.build import BuildRequest, build

pytestmark = pytest.mark.integration


@pytest.fixture
def mlp(tmp_path):
    """A two-layer MLP with a dynamic batch: MatMul weights int8-static quantizes."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.1, name)
               for name, s in (("w1", (256, 256)), ("w2", (256, 64)))]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "w2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])], weights)
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_int8_build_is_timed_against_fp32_and_a_heavier_int8_bundle_is_caught(tmp_project, mlp):
    request = BuildRequest(model=str(mlp), recipe="int8-static", input_shapes=("x:1,256",), calibration="random")
    said = []
    result = build(tmp_project, request, say=said.append, guard=True)  # as `invoke build` runs it
    verdict = cli.build_json(result)["speed_guard"]
    assert verdict["mode"] == "warn" and verdict["source"] == "measured here" and not verdict["reused"]
    assert verdict["status"] in ("faster", "slower") and verdict["int8_p50_ms"] > 0 and verdict["fp32_p50_ms"] > 0
    assert verdict["ratio"] == pytest.approx(verdict["int8_p50_ms"] / verdict["fp32_p50_ms"], rel=1e-3)
    assert verdict["line"] in cli.build_summary(result)
    # the guard wrote nothing into the bundle: its files are the manifest's, and the manifest is as built
    assert sorted(p.name for p in result.bundle.iterdir()) == sorted([*result.manifest["files"], "manifest.json"])
    assert bundle.read_manifest(result.bundle) == result.manifest

    # Genuinely slower: the same graph as int8 at 64x the batch, against the fp32 bundle of batch 1.
    fp32 = build(tmp_project, BuildRequest(model=str(mlp), input_shapes=("x:1,256",)), say=lambda s: None).bundle
    heavy = build(tmp_project, BuildRequest(model=str(mlp), recipe="int8-static", input_shapes=("x:64,256",),
                                            calibration="random", out=tmp_project.root / "heavy"), say=lambda s: None)
    shas = [bundle.manifest_sha256(heavy.bundle), bundle.manifest_sha256(fp32)]
    figures = speed_guard.measure_here(tmp_project, heavy.bundle, fp32, say=lambda s: None)
    judged = speed_guard.judge("refuse", figures, "host")
    assert judged["status"] == "slower" and judged["ratio"] > 1 and "REFUSED" in judged["line"]
    again = speed_guard.measure_here(tmp_project, heavy.bundle, fp32, say=lambda s: None)
    assert again.reused and (again.int8_p50_ms, again.measured) == (figures.int8_p50_ms, figures.measured)
    assert [bundle.manifest_sha256(heavy.bundle), bundle.manifest_sha256(fp32)] == shas
