"""Build a real ONNX file (dynamic batch, as exporters write them) and check TVM against ONNX Runtime."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from edgebuild.compile.runner import HostModel

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8), torch.nn.ReLU6(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 5), torch.nn.Softmax(dim=1),
    ).eval()
    path = tmp_path_factory.mktemp("onnx") / "det.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), str(path), input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}}, opset_version=17, dynamo=False)
    return path


def test_dynamic_dims_must_be_given(onnx_model):
    done = invoke(ROOT, "build", f"--model={onnx_model}")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "x[0]='batch'" in done.stderr and "--input-shape=x:N,3,N,N" in done.stderr


def test_onnx_file_builds_for_host_and_matches_onnxruntime(onnx_model, tmp_path):
    out = tmp_path / "bundle"
    done = invoke(ROOT, "build", f"--model={onnx_model}", "--input-shape=x:2,3,40,48", f"--out={out}")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"].startswith("det-") and manifest["inputs"][0]["shape"] == [2, 3, 40, 48]
    assert manifest["outputs"] == [{"name": "probs", "shape": [2, 5], "dtype": "float32"}]
    assert manifest["metrics"]["max_abs_diff_vs_onnxruntime"] < 1e-4
    # who scheduled each kernel, and its share of one profiled run; the summary prints the counts
    kernels = manifest["kernels"]
    assert kernels["fallback"] is None and kernels["counts"].get("none", 0) == 0 and kernels["counts"]["gemm"] >= 1
    assert len(kernels["per_kernel"]) == sum(kernels["counts"].values())
    assert 0 < sum(k["share"] or 0 for k in kernels["per_kernel"]) <= 1.0001  # the rest: VM builtins (allocation)
    assert "kernels: " in done.stdout and "gemm " in done.stdout
    # Independently of the build's own check: run the bundle's model.so against ORT on new data.
    x = np.random.default_rng(1).standard_normal((2, 3, 40, 48)).astype(np.float32)
    (got,) = HostModel(out / "model.so", ["x"])({"x": x})
    (want,) = ort.InferenceSession(str(onnx_model), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert np.abs(got - want).max() < 1e-4
