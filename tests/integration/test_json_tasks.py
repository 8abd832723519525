"""`--json` as a script uses it: the whole stdout parses as one document; progress and logs are on stderr."""

import json

import pytest

from ..conftest import invoke

pytestmark = pytest.mark.integration


def run_json(project, *args):
    done = invoke(project.root, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr  # json.loads fails on anything else in stdout


def test_build_bench_history_and_report_print_only_json(tmp_project):
    built, log = run_json(tmp_project, "build")
    assert not built["cached"] and built["manifest"]["model"]["name"] == "digits-cnn"
    assert "build digits-cnn x none x host: compile: done after" in log  # line-wise progress: stderr is no TTY
    again, _ = run_json(tmp_project, "build")
    assert again["cached"] and again["bundle"] == built["bundle"]

    compressed, log = run_json(tmp_project, "bench-compress", "--recipes=none", "--runs=3")
    assert [r["recipe"] for r in compressed["rows"]] == ["none"] and compressed["rows"][0]["latency_ms"] > 0
    assert "bench-compress digits-cnn: timing: done after" in log

    bench, log = run_json(tmp_project, "bench", "--runs=3", "--no-untuned")
    assert set(bench["models"][0]["engines"]) == {"onnxruntime", "tvm", "pytorch"}
    assert bench["machine"] == "x86_64" and bench["cpu_model"] and bench["host"]
    assert "bench digits-cnn: done after" in log

    runs = run_json(tmp_project, "history")[0]["runs"]
    assert [r["kind"] for r in runs] == ["build", "bench-compress", "bench", "bench", "bench"]
    assert {r["bundle_sha256"] for r in runs if r["kind"] == "bench"} == {runs[0]["bundle_sha256"]}
    assert {r["engine"]: r["ratio_ort"] for r in runs if r["kind"] == "bench"} == {
        e: v["ratio_median"] for e, v in bench["models"][0]["engines"].items()}

    page, _ = run_json(tmp_project, "report")
    assert page["bytes"] > 1000 and page["out"].endswith("results/report.html")
