"""The benchmark's mechanics (not its numbers: those are measurements, reported by `invoke bench`)."""

import json

import pytest

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


def test_bench_runs_every_engine_side_by_side_and_writes_json():
    done = invoke(ROOT, "bench", "--runs=3", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["engines"]) == {"onnxruntime", "tvm", "pytorch"}
    assert report["engines"]["onnxruntime"]["ratio_to_onnxruntime"] == 1.0
    assert all(e["median_ms"] > 0 for e in report["engines"].values())
    assert report["onnxruntime_options"]["intra_op_num_threads"] == report["threads"]
    assert len(report["bundle_sha256"]) == 64
