"""`invoke tune` mechanics on a tiny budget: records land in compile/tuning/<target>/ and builds apply them."""

import json

import pytest

from edgebuild.compile import tune

from ..conftest import invoke

pytestmark = pytest.mark.integration


def test_records_are_written_then_applied_by_the_next_build(tmp_project, tmp_path):
    out = tmp_path / "bundle"
    assert invoke(tmp_project.root, "build", f"--out={out}").returncode == 0
    untuned_key = json.loads((out / "manifest.json").read_text())["cache_key"]

    done = invoke(tmp_project.root, "tune", "--trials=7")  # one candidate per digits-cnn kernel
    assert done.returncode == 0, done.stderr
    records = tmp_project.tuning_dir / "host" / "database_tuning_record.json"
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    measured = [r for r in lines if r[1][1][0] < 1e9]  # 1e10 marks a failed candidate
    assert measured, "no candidate was measured successfully"

    done = invoke(tmp_project.root, "build", f"--out={out}")
    assert done.returncode == 0 and "up to date" not in done.stdout  # records are part of the cache key
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["cache_key"] != untuned_key
    assert manifest["metrics"]["max_abs_diff_vs_onnxruntime"] < 1e-4 and manifest["metrics"]["accuracy"] >= 97


def test_budget_and_target_are_checked(project):
    from edgebuild.errors import UsageError

    with pytest.raises(UsageError, match="exactly one budget"):
        tune.tune(project, "digits-cnn", "host")
    with pytest.raises(UsageError, match="--target=rpi4: aarch64 code cannot be measured on this machine"):
        tune.tune(project, "digits-cnn", "rpi4", trials=1)
