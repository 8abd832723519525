"""`invoke tune` mechanics on a tiny budget: the search lands in build/.cache/tune-search/<target>/,
only kernels that beat the schedule rules reach compile/tuning/<target>/, and builds apply records."""

import json
import shutil

import pytest

from edgebuild.flows import tune

from ..conftest import invoke

pytestmark = pytest.mark.integration


def test_records_are_written_then_applied_by_the_next_build(tmp_project, tmp_path):
    out = tmp_path / "bundle"
    assert invoke(tmp_project.root, "build", f"--out={out}").returncode == 0
    untuned_key = json.loads((out / "manifest.json").read_text())["cache_key"]

    done = invoke(tmp_project.root, "tune", "--trials=7", "--json")  # about one candidate per digits-cnn kernel
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole stdout; the log (with the kernel table) went to stderr
    assert result["trials"] == 7 and result["tasks"] == len(result["kernels"])
    search = tmp_project.cache_dir / "tune-search" / "host"
    lines = [json.loads(line) for line in (search / "database_tuning_record.json").read_text().splitlines()]
    measured = [r for r in lines if r[1][1][0] < 1e9]  # 1e10 marks a failed candidate
    assert measured, "no candidate was measured successfully"
    table = [line.split() for line in done.stderr.splitlines() if line.endswith((" rule", " search"))]
    assert len(table) >= 7 and all(row[1] != "-" for row in table), done.stderr  # every rule was timed
    kept = tmp_project.tuning_dir / "host" / "database_tuning_record.json"
    promoted = len(kept.read_text().splitlines()) if kept.exists() else 0
    assert promoted == sum(row[-1] == "search" for row in table) == result["promoted"], done.stderr
    (row,) = json.loads(invoke(tmp_project.root, "history", "--kind=tune", "--json").stdout)["runs"]
    assert (row["model"], row["target"], row["device"]) == ("digits-cnn", "host", None)

    # Whatever the records folder holds is applied by the next build (here: the whole search).
    shutil.copytree(search, tmp_project.tuning_dir / "host", dirs_exist_ok=True)
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
