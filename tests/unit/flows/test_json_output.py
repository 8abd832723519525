"""--json: each task's stdout is exactly one JSON document (or JSON Lines per device) of a documented schema."""

import json
from types import SimpleNamespace

from edgebuild.flows import jobs
from tests.conftest import ROOT, invoke


def test_a_profile_line_has_the_same_keys_whether_the_device_was_timed_or_not():
    device = SimpleNamespace(name="pi-1", emulated=False, description="")
    bundle = SimpleNamespace(manifest={"target": {"name": "rpi4"}, "model": {"name": "m"}, "recipe": {"name": "none"}},
                             sha256="ab")
    probe = SimpleNamespace(cpu_model="Cortex-A72")
    timed = jobs._result(device, bundle, probe, {"ok": True, "times_ms": [1.0, 2.0]}, 2.0, jobs.AgentOptions())
    assert tuple(timed) == jobs.RESULT_KEYS
    failed = jobs.profile_json(jobs.Outcome("pi-2", False, error="unreachable"))
    assert tuple(failed) == jobs.RESULT_KEYS and (failed["device"], failed["ok"], failed["error"]) == (
        "pi-2", False, "unreachable")
    assert jobs.profile_json(jobs.Outcome("pi-1", True, result=timed)) is timed


def test_targets_and_recipes_json_are_one_object_each():
    targets = json.loads(invoke(ROOT, "targets", "--json").stdout)
    assert {"host", "rpi4"} <= {t["name"] for t in targets["targets"]}
    rpi4 = next(t for t in targets["targets"] if t["name"] == "rpi4")
    assert rpi4["arch"] == "aarch64" and rpi4["tvm"]["kind"] == "llvm"
    recipes = json.loads(invoke(ROOT, "recipes", "--json").stdout)
    none = next(r for r in recipes["recipes"] if r["name"] == "none")
    assert set(none) >= {"name", "description", "steps"}
