"""`invoke tune --device=rpi4-emu`: real SSH, real qemu, real MetaSchedule; mechanics, not speed.

One sequence, because every MetaSchedule batch costs tens of seconds of building here: a tiny run
whose device goes down after its first search batch (measured records land in the emulated search
database under build/.cache, the next batch fails, the run stops with the DeviceError and no
traceback), then a run that resumes from those records once the device is back.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from edgebuild.lab import emulate, provision
from edgebuild.project import Project

from .conftest import ROOT

FAILED = 1e9  # MetaSchedule stores a failed candidate with run_secs 1e10


@pytest.fixture(scope="module")
def device():
    """rpi4-emu running and provisioned (no bundle needed, unlike the `lab` fixture)."""
    project = Project(ROOT)
    was_running = emulate.running_pid(emulate.Emulator.of(project)) is not None
    started = emulate.start(project, say=lambda s: None)
    provision.provision(project, started.name, say=lambda s: None)
    yield project
    if was_running:  # as it was, even when the test failed while the device was down
        emulate.start(project, say=lambda s: None)
    else:
        emulate.stop(project, started.name, say=lambda s: None)


def copy_devices(project: Project, tmp_project: Project) -> None:
    """The emulator's registration (port, pinned host key) into the test's project copy."""
    (tmp_project.root / "devices").mkdir(exist_ok=True)
    for name in ("local.toml", "known_hosts.local"):
        shutil.copy(project.root / "devices" / name, tmp_project.root / "devices" / name)


def start_tune(root, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "invoke", "tune", "--device=rpi4-emu", *args], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def records(tmp_project: Project) -> list[float]:
    path = tmp_project.cache_dir / "tune-search" / "rpi4-emulated" / "database_tuning_record.json"
    return [json.loads(line)[1][1][0] for line in path.read_text().splitlines()]


def session_pids(project: Project) -> list[int]:
    """The emulated sshd's per-connection processes (its children)."""
    master = emulate.running_pid(emulate.Emulator.of(project))
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    return [int(p) for p, pp in zip(out[::2], out[1::2]) if int(pp) == master]


def take_down(project: Project) -> None:
    """The device vanishes: no sshd to reconnect to, and the open connection drops."""
    sessions = session_pids(project)
    emulate.stop(project, say=lambda s: None)
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)


def test_device_drop_stops_cleanly_then_the_next_run_resumes(device, tmp_project):
    copy_devices(device, tmp_project)
    began = time.monotonic()
    # batch 1: the schedule rules' kernels (the bar); then three search batches of one candidate
    proc = start_tune(tmp_project.root, "--trials=3")
    out = []
    for line in proc.stdout:
        out.append(line)
        if "batch 2:" in line:
            take_down(device)
            break
    out += proc.stdout.readlines()
    err = proc.stderr.read()
    status = proc.wait(timeout=600)
    text = "".join(out)
    assert "is emulated" in text and "tuning-emulated" in text, text
    assert "measured the schedule rules' kernels" in text and "batch 2: 1/1 candidates measured" in text, text + err
    assert "batch 3: 1 candidates failed" in text and "reconnecting" in text, text + err
    assert status == 1 and "Traceback" not in err, err
    assert "error: rpi4-emu is down" in err and "records measured so far are kept" in err, err
    first = records(tmp_project)
    assert any(0 < s < FAILED for s in first) and any(s >= FAILED for s in first), first
    assert not (tmp_project.root / "compile" / "tuning").exists()  # never in a committed database
    first_s = time.monotonic() - began

    emulate.start(device, say=lambda s: None)
    copy_devices(device, tmp_project)  # its port may have changed
    proc = start_tune(tmp_project.root, "--trials=1")
    text, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "batch 2: 1/1 candidates measured" in text, text + err
    assert len(records(tmp_project)) > len(first)
    assert not (tmp_project.root / "compile" / "tuning").exists()
    print(f"drop run {first_s:.0f} s, resume run {time.monotonic() - began - first_s:.0f} s")
