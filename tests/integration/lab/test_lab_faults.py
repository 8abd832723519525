"""Faults against the emulated device and its real sshd: real processes and connections, no mocks."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest

from edgebuild.errors import DeviceError
from edgebuild.flows import jobs
from edgebuild.lab import agent_run, emulate, inventory, remote
from edgebuild.lab.agent_run import AgentOptions
from edgebuild.lab.deploy import deploy
from edgebuild.lab.inventory import Inventory
from edgebuild.lab.transport import Timeouts, connect, host_key_name
from edgebuild.project import Project

from .conftest import ROOT, variant

# A deploy in its own process that stops inside the upload until the file argv[3] exists (or 600 s).
SLOW_DEPLOY = """
import sys, time
from pathlib import Path
from edgebuild.lab import inventory, remote
from edgebuild.lab.deploy import LocalBundle, deploy
from edgebuild.lab.transport import connect
from edgebuild.project import Project

project, folder, release = Project(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])
inv = inventory.load(project)
paused = []
def progress(path, done, total):
    if not paused:
        paused.append(path)
        print("UPLOADING", path, flush=True)
        deadline = time.monotonic() + 600
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
with connect(inv, inv.get("rpi4-emu")) as conn:
    probe = remote.probe(conn)
    with remote.locked(conn, probe.work_dir):
        print(deploy(conn, probe, LocalBundle.open(folder), progress).summary(), flush=True)
"""


def quiet(_):
    pass


def live(lab, name):
    """The version folder bundles/NAME points at on the device (the device is this machine)."""
    link = Path(lab.device.work_dir) / "bundles" / name
    return os.path.realpath(link) if link.is_symlink() else None


def start_slow_deploy(lab, folder, release):
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DEPLOY, str(lab.project.root), str(folder), str(release)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    assert line.startswith("UPLOADING"), line + proc.stderr.read()
    return proc


@pytest.fixture
def deployed(lab):
    """rpi4-emu with the lab's bundle deployed; yields the live version folder."""
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    assert o.ok, o.error
    return live(lab, lab.bundle.name)


def test_changed_host_key_is_refused_and_nothing_sent(lab, tmp_path, deployed):
    devices = tmp_path / "devices"
    devices.mkdir()
    other = paramiko.RSAKey.generate(2048)
    (devices / "known_hosts").write_text(f"{host_key_name(lab.device)} {other.get_name()} {other.get_base64()}\n")
    inv = Inventory(devices, {lab.device.name: lab.device})
    before = sorted(os.listdir(Path(lab.device.work_dir) / "bundles"))
    with pytest.raises(DeviceError) as err:
        connect(inv, lab.device)
    assert "HOST KEY CHANGED" in str(err.value) and "lab.trust rpi4-emu --replace" in str(err.value)
    (devices / "known_hosts").write_text("")  # unknown key: refused too, never added
    with pytest.raises(DeviceError, match="not in devices/known_hosts.*invoke lab.trust rpi4-emu"):
        connect(inv, lab.device)
    assert (devices / "known_hosts").read_text() == ""
    assert sorted(os.listdir(Path(lab.device.work_dir) / "bundles")) == before


def test_killed_mid_upload_keeps_previous_and_next_deploy_cleans_up(lab, tmp_path, deployed):
    new = variant(lab, tmp_path / "b", "killed")
    proc = start_slow_deploy(lab, new.folder, tmp_path / "never")
    bundles = Path(lab.device.work_dir) / "bundles"
    assert any(n.startswith(".tmp-") for n in os.listdir(bundles))  # the upload had begun
    proc.send_signal(signal.SIGKILL)  # the host process dies; its connection drops
    proc.wait(10)
    assert live(lab, lab.bundle.name) == deployed  # previous deploy intact
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=new.folder), say=quiet)
    assert o.ok, o.error  # the lock died with the killed connection
    assert any(n.startswith(".tmp-") for n in o.deployed.removed_stale)
    assert not any(n.startswith(".tmp-") for n in os.listdir(bundles))
    assert live(lab, lab.bundle.name) != deployed and f".v-{new.sha256[:12]}-" in live(lab, lab.bundle.name)


def test_corrupted_upload_fails_closed(lab, tmp_path, deployed):
    new = variant(lab, tmp_path / "b", "corrupted")
    inv = lab.inventory
    with connect(inv, lab.device) as conn:
        probe = remote.probe(conn)

        def corrupt(path, done, total):  # model.so(.z) is complete and closed once reference.npz starts
            if "reference.npz" in path and not corrupt.done:
                corrupt.done = True
                with conn.sftp.open(path.replace("reference.npz", "model.so"), "r+") as f:
                    f.write(b"\0" * 64)
        corrupt.done = False
        with remote.locked(conn, probe.work_dir), pytest.raises(DeviceError) as err:
            deploy(conn, probe, new, corrupt)
    assert "verification failed, nothing deployed: model.so" in str(err.value)
    assert live(lab, lab.bundle.name) == deployed
    assert not any(n.startswith(".tmp-") for n in os.listdir(Path(lab.device.work_dir) / "bundles"))


def test_two_deploys_at_once_one_fails_fast(lab, tmp_path, deployed):
    slow = variant(lab, tmp_path / "a", "slow")
    other = variant(lab, tmp_path / "b", "other")
    release = tmp_path / "release"
    proc = start_slow_deploy(lab, slow.folder, release)  # holds the device's lock, paused mid-upload
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=other.folder), say=quiet)
    assert not o.ok and "busy: " in o.error and "running a deploy" in o.error, o.error  # fails fast, while the first waits
    release.touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f".v-{slow.sha256[:12]}-" in live(lab, lab.bundle.name)  # only the first one wrote


def test_hung_agent_is_killed_with_nothing_left(lab):
    marker = f"/nonexistent/hang-{os.getpid()}-{time.monotonic_ns()}"
    with connect(lab.inventory, lab.device) as conn:
        began = time.monotonic()
        with pytest.raises(DeviceError) as err:
            agent_run.run_agent(conn, marker, "/nonexistent", AgentOptions(timeout=4),
                                script="import time\nprint('hanging', flush=True)\ntime.sleep(3600)\n")
        took = time.monotonic() - began
    assert "did not finish within the job timeout of 4 s" in str(err.value) and "nothing left running" in str(err.value)
    assert took < 15
    ps = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True).stdout
    assert marker not in ps


def test_device_without_runtime_names_provision(lab, tmp_path):
    root = tmp_path / "proj"
    (root / "devices").mkdir(parents=True)
    (root / "tasks.py").write_text("")
    shutil.copy(lab.inventory.devices_dir / "known_hosts.local", root / "devices" / "known_hosts.local")
    bare = (Path(lab.device.work_dir).parent / "work-bare")
    text = (lab.inventory.devices_dir / "local.toml").read_text().replace("[device.rpi4-emu]", "[device.emu-bare]")
    (root / "devices" / "local.toml").write_text(text.replace(f'"{lab.device.work_dir}"', f'"{bare}"'))
    (o,) = jobs.profile_on(Project(root), "emu-bare", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    assert not o.ok and "no TVM runtime on the device" in o.error and "invoke lab.provision emu-bare" in o.error
    assert not (bare / "bundles").exists() or not os.listdir(bare / "bundles")


def test_unreachable_device_fails_within_the_connect_timeout(lab):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    gone = inventory.Device(**{**vars(lab.device), "port": closed})
    inv = lab.inventory
    began = time.monotonic()
    with pytest.raises(DeviceError) as err:
        connect(inv, gone, Timeouts(connect=3))
    assert time.monotonic() - began < 3.5 and f"127.0.0.1 port {closed}" in str(err.value) 


def test_bundle_for_another_arch_is_refused(lab, tmp_path, deployed):
    import json

    wrong = variant(lab, tmp_path / "x86", "x86")
    manifest = json.loads((wrong.folder / "manifest.json").read_text())
    manifest["target"]["arch"] = "x86_64"
    (wrong.folder / "manifest.json").write_text(json.dumps(manifest))
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=wrong.folder), say=quiet)
    assert not o.ok and "is for x86_64" in o.error and "reports aarch64" in o.error
    assert live(lab, lab.bundle.name) == deployed


def sshd_sessions(lab):
    """Pids of the emulated device's per-connection sshd processes (children of its sshd)."""
    master = emulate.running_pid(lab.emulator)
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    return [int(p) for p, pp in zip(out[::2], out[1::2]) if int(pp) == master]


def signal_all(pids, sig):
    """Signal each pid; one that has exited (or been reaped by its sshd) since it was listed is skipped."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def test_device_side_connection_killed_mid_upload(lab, tmp_path, deployed):
    new = variant(lab, tmp_path / "b", "cut")
    killed = []

    def cut(path, done, total):  # kill the device's sshd session processes: the link drops mid-upload
        if not killed:
            killed.extend(sshd_sessions(lab))
            signal_all(killed, signal.SIGKILL)
    began = time.monotonic()
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=new.folder), say=quiet, progress=cut)
    assert killed and not o.ok and "connection to" in o.error and "broke" in o.error, o.error
    assert time.monotonic() - began < 30
    assert live(lab, lab.bundle.name) == deployed
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=new.folder), say=quiet)
    assert o.ok and any(n.startswith(".tmp-") for n in o.deployed.removed_stale), o
    assert f".v-{new.sha256[:12]}-" in live(lab, lab.bundle.name)


def test_deploy_to_a_tag_runs_on_every_device_in_parallel(lab, tmp_path):
    root = tmp_path / "proj"
    (root / "devices").mkdir(parents=True)
    (root / "tasks.py").write_text("")
    shutil.copy(lab.inventory.devices_dir / "known_hosts.local", root / "devices" / "known_hosts.local")
    base = (lab.inventory.devices_dir / "local.toml").read_text()
    text = ""
    for name in ("emu-a", "emu-b"):
        work = tmp_path / name
        text += base.replace("[device.rpi4-emu]", f"[device.{name}]").replace(
            f'"{lab.device.work_dir}"', f'"{work}"').replace('tags = ["emulated", "rpi4"]', 'tags = ["pair"]')
    (root / "devices" / "local.toml").write_text(text)
    began = time.monotonic()
    outcomes = jobs.deploy_to(Project(root), "pair", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    took = time.monotonic() - began
    assert [o.device for o in outcomes] == ["emu-a", "emu-b"] and all(o.ok for o in outcomes), outcomes
    assert all((tmp_path / n / "bundles" / lab.bundle.name / "model.so").is_file() for n in ("emu-a", "emu-b"))
    assert took < sum(o.seconds for o in outcomes)  # they overlapped


def test_frozen_device_hits_the_command_timeout(lab):
    """The device's sshd session stops answering (SIGSTOP): a command fails at its timeouts, no hang."""
    with connect(lab.inventory, lab.device, Timeouts(connect=2, command=3)) as conn:
        conn.run("true")
        frozen = sshd_sessions(lab)
        try:
            signal_all(frozen, signal.SIGSTOP)
            began = time.monotonic()
            with pytest.raises(DeviceError, match="did not (open a channel|finish)"):
                conn.run("echo hi")
            assert time.monotonic() - began < 6
        finally:
            signal_all(frozen, signal.SIGKILL)  # SIGKILL ends a stopped process too
