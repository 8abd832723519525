"""A real recipe search on digits-cnn for the host: killed after its first trial, then resumed."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke

pytestmark = pytest.mark.integration
HANG_S = 2400


def finished_trials(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT count(*) FROM trials WHERE state = 'COMPLETE' OR state = 'PRUNED'").fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_search_killed_after_a_trial_resumes_and_writes_a_reproducible_recipe(tmp_project):
    root = tmp_project.root
    args = ["search", "--model=digits-cnn", "--max-accuracy-drop=1", "--trials=3", "--runs=10", "--name=ci-search"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    db = root / "results" / "history.sqlite"  # the history database also holds the Optuna study
    # A guard against a hang, not a time limit: a trial takes ~1 min of CPU, far longer on a loaded machine.
    deadline = time.monotonic() + HANG_S
    while finished_trials(db) < 1 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.poll() is None, first.stdout.read()
    assert finished_trials(db) >= 1, f"no trial finished in {HANG_S} s"
    os.killpg(first.pid, signal.SIGKILL)  # mid-search: the next trial is running or about to
    first.wait()
    kept = finished_trials(db)
    assert 1 <= kept < 3

    resumed = invoke(root, *args, "--json", timeout=HANG_S)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = json.loads(resumed.stdout)  # stdout is only the JSON report
    assert f"{kept} trials done so far" in resumed.stderr
    assert report["trials"]["complete"] + report["trials"]["pruned"] == 3
    # the trial the kill interrupted is failed, not counted, and not resumed as if it had finished
    assert report["trials"]["running"] == 0
    assert report["front"] and report["front"][0]["holdout"]["metric"] is not None
    # The chosen point builds again, from its recipe, to the same bytes (training runs on one thread).
    # The recipe is the first point that is better on held-out data, which need not be the front's first
    # (that one can fail the held-out check): CI once compared another point's bundle here.
    better = [p for p in report["front"] if p["better"]]
    best = better[0] if better else report["front"][0]
    if report["recipes"]:  # written when the point beats the uncompressed build by 5% on held-out data
        (recipe,) = report["recipes"]
        assert f"trial {best['trial']})" in Path(recipe).read_text()
    else:
        import tomli_w

        recipe = str(root / "best.toml")
        (root / "best.toml").write_text(tomli_w.dumps({"description": "front point", "steps": best["steps"]}))
    again = invoke(root, "build", f"--recipe={recipe}", f"--out={root / 'again'}", timeout=HANG_S)
    assert again.returncode == 0, again.stderr
    assert (root / "again" / "model.so").read_bytes() == (Path(best["bundle"]) / "model.so").read_bytes()
