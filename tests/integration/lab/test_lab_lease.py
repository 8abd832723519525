"""Locks with a lease, orphan agents and errors that stay with their device (issue 11, parts 1-2)."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgebuild.errors import DeviceError
from edgebuild.flows import jobs
from edgebuild.lab import inventory, remote
from edgebuild.lab.transport import Timeouts, connect

from .conftest import ROOT, project_with, variant
from .proxy import Proxy


def quiet(_):
    pass


def device_processes(marker, lab):
    """The emulated device's processes (qemu running its Python) whose command line holds `marker`."""
    return [line for line in subprocess.run(["ps", "-eww", "-o", "pid=,args="], capture_output=True, text=True).stdout
            .splitlines() if marker in line and str(lab.emulator.root) in line]


def test_frozen_link_holding_the_lock_is_taken_over_after_its_lease(lab, tmp_path):
    with Proxy(lab.device.port) as proxy:
        project = project_with(lab, tmp_path / "p", **{"via-proxy": {"port": proxy.port}})
        inv = inventory.load(project)
        holder = connect(inv, inv.get("via-proxy"), Timeouts(lease=8))
        caller = connect(lab.inventory, lab.device)
        try:
            stack = remote.locked(holder, str(Path(lab.device.work_dir)), "profile")
            stack.__enter__()
            proxy.freeze()  # the holder's host is gone behind a frozen link; its lease stops being renewed
            frozen_at = time.monotonic()
            with pytest.raises(DeviceError) as busy:
                with remote.locked(caller, lab.device.work_dir, "deploy"):
                    pass
            assert "busy" in str(busy.value) and "running a profile" in str(busy.value), busy.value
            assert f"pid {os.getpid()}" in str(busy.value) and time.monotonic() - frozen_at < 8
            time.sleep(max(0.0, 8.5 - (time.monotonic() - frozen_at)))
            began = time.monotonic()
            (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
            assert o.ok, o.error
            assert "took over its expired lease" in o.extra["lock"], o.extra
            assert time.monotonic() - began < 30
        finally:
            caller.close()
            holder.client.close()


HOLD = """
import sys
from pathlib import Path
from edgebuild.lab import inventory, remote
from edgebuild.lab.agent_run import AgentOptions, run_agent
from edgebuild.lab.transport import connect
from edgebuild.project import Project
inv = inventory.load(Project(Path(sys.argv[1])))
hang = "import time\\nprint('hanging', flush=True)\\ntime.sleep(3600)\\n"
with connect(inv, inv.get("rpi4-emu")) as conn:
    with remote.locked(conn, sys.argv[3], "profile") as lease:
        run_agent(conn, sys.argv[2], "/nonexistent", AgentOptions(timeout=300), script=hang, lease=lease)
"""


def test_host_killed_mid_profile_takes_its_agent_with_it(lab):
    marker = f"/nonexistent/orphan-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lab.project.root), marker, lab.device.work_dir],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not device_processes(marker, lab):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.2)
        time.sleep(1)  # the marked pgid line has reached the host and the lease
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    gone_by = time.monotonic() + 10
    while device_processes(marker, lab) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert not device_processes(marker, lab)


def test_bad_json_from_one_device_keeps_the_others_results(lab, tmp_path):
    project = project_with(lab, tmp_path / "p", good={"work_dir": str(tmp_path / "good")},
                           liar={"python": ["sh", "-c", "echo '{}'; cat >/dev/null", "sh"]})
    outcomes = jobs.deploy_to(project, "pair", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    by = {o.device: o for o in outcomes}
    assert by["good"].ok and by["good"].deployed.sent_bytes > 0
    assert not by["liar"].ok and "malformed JSON" in by["liar"].error, by["liar"].error


def test_full_device_disk_is_named_as_such(lab, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(small)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mounting one was refused: {mounted.stderr.strip()}")
    try:
        project = project_with(lab, tmp_path / "p", tiny={"work_dir": str(small / "work")})
        (o,) = jobs.deploy_to(project, "tiny", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
        assert not o.ok and "disk full" in o.error and "broke" not in o.error, o.error
    finally:
        subprocess.run(["umount", "-l", str(small)])


def test_same_size_corruption_on_the_device_is_repaired(lab, tmp_path):
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    assert o.ok, o.error
    so = Path(lab.device.work_dir) / "bundles" / lab.bundle.name / "model.so"
    size = so.stat().st_size
    with open(so, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * 16)
    (again,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    assert again.ok and again.deployed.sent_bytes > 0
    assert so.read_bytes() == (lab.bundle.folder / "model.so").read_bytes()
    (forced,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder, force=True), say=quiet)
    assert forced.ok and forced.deployed.sent_bytes > 0
