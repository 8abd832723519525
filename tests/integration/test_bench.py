"""The benchmark's mechanics (not its numbers: those are measurements, reported by `invoke bench`)."""

import json
import os
from pathlib import Path

import pytest

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


def test_bench_runs_every_engine_side_by_side_and_writes_json_and_plot():
    done = invoke(ROOT, "bench", "--runs=3", "--contention", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    (model,) = report["models"]
    assert set(model["engines"]) == {"onnxruntime", "tvm", "tvm-untuned", "pytorch"}
    assert model["engines"]["onnxruntime"]["ratio_median"] == 1.0
    assert all(e["median_ms"] > 0 and e["min_ms"] > 0 for e in model["engines"].values())
    # Memory is the model's own: the peak above the process after importing its runtime.
    assert all(0 < e["model_rss_mib"] < e["peak_rss_mib"] for e in model["engines"].values())
    assert model["engines"]["onnxruntime"]["model_rss_ratio"] == 1.0
    assert report["onnxruntime_options"]["intra_op_num_threads"] == report["threads"]
    # --contention: every engine also ran beside the busy core; slowdowns are each engine's own.
    assert report["contention"]["busy_core"] in os.sched_getaffinity(0)
    assert all(e["loaded_median_ms"] > 0 and e["slowdown"] > 0 for e in model["engines"].values())
    assert model["engines"]["onnxruntime"]["ratio_loaded"] == 1.0
    assert len(model["bundle_sha256"]) == 64
    json_file, svg_file = map(Path, report["files"])
    assert json.loads(json_file.read_text())["models"][0]["model"] == "digits-cnn"
    assert svg_file.read_text().startswith("<svg") and "digits-cnn tvm" in svg_file.read_text()
