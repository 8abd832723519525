"""Hostile bundles and a hostile network against rpi4-emu and its real sshd (issue 11, part 1)."""

import re
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgebuild.errors import DeviceError
from edgebuild.flows import jobs
from edgebuild.lab.transport import Timeouts, connect

from .conftest import ROOT, project_with, variant
from .proxy import Proxy


def quiet(_):
    pass


@pytest.fixture
def deployed(lab):
    (o,) = jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=lab.bundle.folder), say=quiet)
    assert o.ok, o.error


def test_manifest_traversal_through_a_planted_symlink_harms_nothing(lab, tmp_path, deployed):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    planted = Path(lab.device.work_dir) / "victim"
    planted.unlink(missing_ok=True)
    planted.symlink_to(outside)
    try:
        bad = variant(lab, tmp_path / "bad", "traversal")
        manifest = json.loads((bad.folder / "manifest.json").read_text())
        manifest["target"]["name"] = "rpi4/../../victim"
        (bad.folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(DeviceError, match="target.name 'rpi4/../../victim' is not a plain name"):
            jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=bad.folder), say=quiet)
        assert (outside / "precious.txt").read_text() == "keep me"
    finally:
        planted.unlink(missing_ok=True)


def test_symlinked_bundle_file_is_refused_before_anything_is_sent(lab, tmp_path, deployed):
    secret = tmp_path / "secret.npz"
    secret.write_bytes(b"host secret " * 100)
    bad = variant(lab, tmp_path / "bad", "symlink")
    (bad.folder / "reference.npz").unlink()
    (bad.folder / "reference.npz").symlink_to(secret)
    sent = []
    with pytest.raises(DeviceError, match="reference.npz is a symlink"):
        jobs.deploy_to(lab.project, "rpi4-emu", jobs.Artifact(bundle=bad.folder), say=quiet,
                       progress=lambda *a: sent.append(a))
    assert not sent


def test_a_flood_of_device_output_is_capped_with_a_note(lab):
    with connect(lab.inventory, lab.device) as conn:
        done = conn.run("head -c 40000000 /dev/zero | tr '\\0' x; echo tail-line", timeout=60)
    assert len(done.stdout) < 9 * 2**20 and "bytes of output dropped" in done.stdout
    assert done.stdout.rstrip().endswith("tail-line")


FLOOD = """
import resource, sys
from pathlib import Path
from edgebuild.lab import inventory
from edgebuild.lab.agent_run import AgentOptions, run_agent
from edgebuild.lab.transport import connect
from edgebuild.project import Project
inv = inventory.load(Project(Path(sys.argv[1])))
flood = "import sys\\nfor _ in range(150):\\n    sys.stdout.write('y' * 2**20)\\nprint()\\nprint('EDGEBUILD-RESULT {\\"ok\\": true}')\\n"
with connect(inv, inv.get("rpi4-emu")) as conn:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = run_agent(conn, "/nonexistent", "/nonexistent", AgentOptions(timeout=120), script=flood)
    print(out["ok"], (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_agent_output_flood_keeps_host_memory_bounded(lab):
    done = subprocess.run([sys.executable, "-c", FLOOD, str(lab.project.root)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    ok, grown_mb = done.stdout.split()
    assert ok == "True" and int(grown_mb) < 40, (done.stdout, done.stderr[-500:])


def test_sftp_open_on_a_frozen_link_fails_within_its_deadline(lab, tmp_path):
    with Proxy(lab.device.port) as proxy:
        project = project_with(lab, tmp_path / "p", **{"via-proxy": {"port": proxy.port}})
        from edgebuild.lab import inventory

        inv = inventory.load(project)
        with connect(inv, inv.get("via-proxy"), Timeouts(connect=2, sftp_open=2)) as conn:
            conn.run("true")
            proxy.freeze()
            began = time.monotonic()
            with pytest.raises(DeviceError, match="SFTP"):
                conn.sftp
            assert time.monotonic() - began < 5


def test_exec_start_on_a_frozen_link_fails_within_its_deadline(lab, tmp_path):
    with Proxy(lab.device.port) as proxy:
        project = project_with(lab, tmp_path / "p", **{"via-proxy": {"port": proxy.port}})
        from edgebuild.lab import inventory

        inv = inventory.load(project)
        with connect(inv, inv.get("via-proxy"), Timeouts(connect=2, exec_start=2)) as conn:
            chan = conn.channel("true")
            proxy.freeze()
            began = time.monotonic()
            with pytest.raises(DeviceError, match="did not start"):
                conn.exec(chan, "true")
            assert time.monotonic() - began < 5


def test_trickling_upload_fails_at_the_transfer_deadline(lab, tmp_path):
    fresh = variant(lab, tmp_path / "b", "trickle")
    with Proxy(lab.device.port) as proxy:
        project = project_with(lab, tmp_path / "p", **{"via-proxy": {"port": proxy.port}})
        proxy.trickle(20000)  # bytes/s host -> device: model.so.z alone would take ~5 s
        began = time.monotonic()
        (o,) = jobs.deploy_to(project, "via-proxy", jobs.Artifact(bundle=fresh.folder), say=quiet,
                              timeouts=Timeouts(transfer_base=3, transfer_rate=2**20))
        took = time.monotonic() - began
    # the first large file on the wire: model.so.z, or model.weights.z (bundle schema 3)
    assert not o.ok and re.search(r"uploading model\.(so|weights)\.z", o.error) and "did not finish within 3 s" in o.error, o.error
    assert took < 40  # probe, lock and clean scripts trickle too; the upload itself stops at 3 s


def test_trust_pins_a_scanned_key_only_after_confirmation_or_expect(lab, tmp_path):
    from edgebuild.lab import inventory, trust

    project = project_with(lab, tmp_path / "p", fresh={})
    (project.root / "devices" / "known_hosts.local").write_text("")
    inv = inventory.load(project)
    device = inv.get("fresh")
    with pytest.raises(DeviceError, match="--expect=SHA256:"):
        trust.trust(inv, device)  # non-interactive, no --expect: refused
    asked = []
    with pytest.raises(DeviceError, match="not confirmed"):
        trust.trust(inv, device, confirm=lambda fp: asked.append(fp) or False)
    assert asked and asked[0].startswith("SHA256:") and trust.pinned(inv, device) == []
    real = trust.fingerprint(trust.scan(device))
    assert trust.trust(inv, device, expect=real).changed and trust.pinned(inv, device)


def test_changed_key_message_asks_for_the_expected_fingerprint(lab, tmp_path):
    import paramiko

    from edgebuild.lab import inventory, trust
    from edgebuild.lab.transport import host_key_name

    project = project_with(lab, tmp_path / "p", moved={})
    other = paramiko.Ed25519Key.from_private_key_file(str(lab.emulator.client_key))
    (project.root / "devices" / "known_hosts.local").write_text(
        f"{host_key_name(lab.device)} {other.get_name()} {other.get_base64()}\n")
    inv = inventory.load(project)
    with pytest.raises(DeviceError, match=r"--replace --expect=SHA256:"):
        connect(inv, inv.get("moved"))
    with pytest.raises(DeviceError, match=r"--replace --expect=SHA256:"):
        trust.trust(inv, inv.get("moved"), expect=None, confirm=lambda fp: True)
