"""The tasks as a user runs them: `invoke deploy --json`, `invoke lab.status --json`, clean errors."""

import json
import subprocess
import sys

from .conftest import ROOT


def invoke(*args):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_deploy_json_prints_one_object_per_device(lab):
    done = invoke("deploy", "--device=rpi4-emu", f"--bundle={lab.bundle.folder}", "--json")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    data = json.loads(line)
    assert data["device"] == "rpi4-emu" and data["ok"] and data["deployed"]["bundle_sha256"] == lab.bundle.sha256


def test_status_json_and_unknown_device(lab):
    done = invoke("lab.status", "--device=emulated", "--json")
    (data,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and data["reachable"] and data["machine"] == "aarch64" and data["emulated"]
    bad = invoke("deploy", "--device=no-such-pi")
    assert bad.returncode == 1 and "unknown device 'no-such-pi'" in bad.stderr and "Traceback" not in bad.stderr


def test_provision_and_profile_json_are_one_schema_per_line(lab):
    from edgebuild.flows import jobs

    done = invoke("lab.provision", "rpi4-emu", "--json")
    assert done.returncode == 0, done.stderr
    (provisioned,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert provisioned["device"] == "rpi4-emu" and provisioned["sent_bytes"] == 0  # the fixture provisioned it
    done = invoke("profile", "--device=rpi4-emu", f"--bundle={lab.bundle.folder}", "--json", "--runs=5",
                  "--min-seconds=0.1")
    assert done.returncode == 0, done.stderr
    (result,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert tuple(result) == jobs.RESULT_KEYS and result["ok"] and result["emulated"]
    assert "rpi4-emu: profiling " in done.stderr  # progress, on stderr
    runs = json.loads(invoke("history", "--device=rpi4-emu", "--kind=profile", "--json").stdout)["runs"]
    assert runs[-1]["bundle_sha256"] == result["bundle_sha256"] and runs[-1]["emulated"]
