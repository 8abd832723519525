import importlib.util
import json
import sys
from pathlib import Path

from edgebuild.lab import results

ROOT = Path(__file__).resolve().parents[3]


def load_tasks():
    spec = importlib.util.spec_from_file_location("edgebuild_tasks_under_test", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as invoke's loader imports it
    spec.loader.exec_module(module)
    return module


def test_lab_namespace_and_top_level_verbs():
    ns = load_tasks().ns
    names = set(ns.task_names)
    assert {"lab.status", "lab.provision", "lab.emulate", "lab.trust", "deploy", "profile", "build"} <= names
    assert not any(n.startswith("lab_") or n.startswith("lab-") for n in names)


def test_result_store_and_summary_flag_emulation(lab_project):
    result = {"device": "rpi4-emu", "target": "rpi4", "model": "digits-cnn", "recipe": "none",
              "bundle_sha256": "ab" * 32, "emulated": True, "ok": True, "time": results.now(),
              "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "mean": 1.5, "runs": 10}, "load_ms": 5.0,
              "peak_rss_bytes": 2**20, "parity_max_abs_diff": 0.0}
    path = results.store(lab_project, result)
    assert path.parent == lab_project.root / "results" / "rpi4-emu" and json.loads(path.read_text()) == result
    assert "EMULATED (not hardware timings)" in results.summary(result)
    assert "[hardware]" in results.summary({**result, "emulated": False})
