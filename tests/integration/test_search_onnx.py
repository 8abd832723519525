"""A recipe search on a model given as an ONNX file: graph steps only, calibration passed to every build."""

import json

import numpy as np
import pytest
import torch

from tests.conftest import invoke

pytestmark = pytest.mark.integration

GRAPH_STEPS = {"int8-static", "int8-dynamic", "cluster-graph", "codebook"}


def test_search_on_an_onnx_file_uses_graph_steps_and_the_calibration_given(tmp_project, tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 8 * 8, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).eval()
    model = tmp_path / "tiny.onnx"
    torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(model), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}}, opset_version=17, dynamo=False)
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).standard_normal((32, 3, 8, 8)).astype(np.float32))
    root = tmp_project.root
    done = invoke(root, "search", f"--model={model}", "--input-shape=x:1,3,8,8", "--min-cosine=0.99",
                  "--objective=size", "--trials=4", f"--calibration={tmp_path / 'calib.npz'}", "--name=onnx-ci", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["trials"]["complete"] >= 3  # a trial may fail its build's gate; most complete
    steps = [json.loads(r) for r in _trial_steps(root)]
    assert steps and all({s["technique"] for s in point} <= GRAPH_STEPS for point in steps)
    (best,) = report["front"]
    assert best["holdout"]["metric"] >= 0.99 and best["transfer_bytes"] > 0
    # every trial built with --calibration: a static int8 trial calibrated on the file given
    for folder in (root / "build" / ".cache" / "search" / "onnx-ci" / "bundles").iterdir():
        manifest = json.loads((folder / "manifest.json").read_text())
        for row in manifest["compression"]:
            if row.get("technique") == "int8-static":
                assert row["notes"]["calibration"] == "file calib.npz"


def _trial_steps(root):
    import sqlite3

    with sqlite3.connect(root / "results" / "history.sqlite") as conn:
        rows = conn.execute("SELECT data FROM runs WHERE kind = 'search'").fetchall()
    return [json.dumps(json.loads(data)["steps"]) for (data,) in rows if json.loads(data)["split"] == "search"]
