"""`invoke search --device=rpi4-emu`: each trial timed beside the reference on the emulated Pi in one
job under the device's lock, trial bundles gone from the device afterwards, nothing written to
recipes/ (an emulated device proves the mechanics, never a recipe)."""

import json
import shlex

from edgebuild.lab import remote
from edgebuild.lab.side_by_side import SCRATCH
from edgebuild.lab.transport import connect

from ...conftest import invoke
from .conftest import ROOT


def test_search_on_the_emulated_pi_times_trials_there_and_leaves_nothing_behind(lab):
    recipes = sorted(p.name for p in (ROOT / "recipes").iterdir())
    done = invoke(ROOT, "search", "--model=digits-cnn", "--target=rpi4", f"--device={lab.device.name}",
                  "--max-accuracy-drop=5", "--trials=1", "--runs=20", "--name=ci-emulated", "--json", timeout=1500)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["trials"]["complete"] + report["trials"]["pruned"] == 1
    assert report["emulated"] is True
    assert sorted(p.name for p in (ROOT / "recipes").iterdir()) == recipes
    assert all("recipes-emulated" in r for r in report["recipes"])
    for point in report["front"]:  # timed on the device beside the reference, trial and held-out re-time
        assert point["latency_ratio"] > 0 and point["holdout"]["latency_ratio"] > 0
    with connect(lab.inventory, lab.device) as conn:
        probe = remote.probe(conn)
        left = conn.run(f"ls -A {shlex.quote(probe.work_dir)}", timeout=30).stdout.split()
    assert SCRATCH not in left
