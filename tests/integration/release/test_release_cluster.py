"""The matrix on other Dask clusters: a tls:// scheduler with a worker killed mid-build, and an
SSHCluster of two build hosts behind the real sshd of rpi4-emu on 127.0.0.1 (unknown keys refused)."""

import asyncio
import os
import shutil
import sys
import threading
import time

import pytest

from edgebuild.errors import DeviceError
from edgebuild.flows.release import cluster, dist, tls
from edgebuild.flows.release.release import ReleaseRequest, release
from edgebuild.flows.release.verify import verify
from edgebuild.lab import inventory
from edgebuild.lab.inventory import Inventory

from .conftest import ROOT, git


def commit_plan(project, name, text):
    (project.root / "releases" / f"{name}.toml").write_text(text)
    git(project.root, "add", "-A")
    git(project.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)


def test_killed_worker_is_retried_on_a_tls_scheduler(released):
    from distributed import Client, LocalCluster

    project = released.project
    # Cells the shared matrix has not built, so each build takes seconds and can be killed mid-way.
    commit_plan(project, "kill", 'description = "k"\nmodels = ["digits-cnn"]\nrecipes = ["fp16"]\n'
                                 'targets = ["x86-64-v3", "rpi4"]\n')
    for target in ("x86-64-v3", "rpi4"):  # bundles persist between test sessions (conftest.py)
        shutil.rmtree(project.build_dir / "digits-cnn" / "fp16" / target, ignore_errors=True)
    folder = tls.ensure(project.root / "devices")
    with LocalCluster(n_workers=2, threads_per_worker=1, resources={"build": 1}, protocol="tls",
                      security=tls.security(folder), dashboard_address=":0") as lc, \
            Client(lc, security=tls.security(folder)) as client:
        assert lc.scheduler_address.startswith("tls://")
        killed = {}

        def kill_one_build():
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed:
                busy = [w for w, keys in client.processing().items() if any("build-" in str(k) for k in keys)]
                if busy:
                    time.sleep(2)  # well into the build
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, 9)
                    killed["pid"] = pid
                time.sleep(0.2)

        thread = threading.Thread(target=kill_one_build)
        thread.start()
        out = release(project, ReleaseRequest(plan="kill", version="k1", scheduler=lc.scheduler_address), say=print)
        thread.join()
    assert killed, "no build was seen running"
    assert [c["key"] for c in dist.read_manifest(out)["cells"]] == ["digits-cnn:fp16:x86-64-v3", "digits-cnn:fp16:rpi4"]
    assert verify(out).bundles == 2


def test_plain_tcp_scheduler_is_refused(released):
    with pytest.raises(Exception, match="tls:// address"):
        release(released.project, ReleaseRequest(plan="test", version="t1", scheduler="tcp://127.0.0.1:1"),
                say=lambda s: None)


def _build_hosts(project, names):
    emu = inventory.load(project).get("rpi4-emu")
    local = project.root / "devices" / "local.toml"
    python = f'["env", "PYTHONPATH={ROOT}", "{sys.executable}"]'
    text = local.read_text()
    for name in names:
        text += (f'\n[device.{name}]\ntarget = "x86-64-v3"\nhost = "127.0.0.1"\nport = {emu.port}\nuser = "{emu.user}"\n'
                 f'key-file = "{emu.key_file}"\npython = {python}\ntags = ["build-host"]\n')
    local.write_text(text)


def test_ssh_cluster_of_two_build_hosts(released):
    project = released.project
    _build_hosts(project, ["bh-1", "bh-2"])
    commit_plan(project, "ssh", 'description = "s"\nmodels = ["models/tiny.onnx"]\nrecipes = ["none"]\n'
                                'targets = ["x86-64-v3", "rpi4"]\nbuild-hosts = ["build-host"]\n')
    said = []
    out = release(project, ReleaseRequest(plan="ssh", version="s1"), say=said.append)
    # two SSH build workers, both registered with the scheduler before the matrix starts
    assert any(s.startswith("dask: tls://") and ", 2 build workers" in s for s in said), said
    assert verify(out).bundles == 2


def test_ssh_refuses_an_unknown_host_key(released, tmp_path):
    import asyncssh

    device = inventory.load(released.project).get("rpi4-emu")
    (tmp_path / "known_hosts").write_text("")  # a lab that never pinned this host
    stranger = Inventory(tmp_path, {device.name: device})
    options = cluster.connect_options(stranger, device)
    assert options["known_hosts"] is not None

    async def attempt():
        async with asyncssh.connect(device.host, **options):
            pass

    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(attempt())
    with pytest.raises(DeviceError, match="not in devices/known_hosts"):
        with cluster.open_cluster(stranger, boards=[], build_hosts=[device]):
            pass
