"""The release flow end to end on one shared matrix (conftest.py): layout, provenance, verify,
refusals, the regression gate against an injected >= 2x slower bundle, --allow, --rebuild."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgebuild.errors import ReleaseRefused, VerifyFailed
from edgebuild.flows.release import dist
from edgebuild.flows.release.release import ReleaseRequest, release
from edgebuild.flows.release.verify import verify

from .conftest import ROOT, git

GATE_PLAN = """
description = "one profiled cell of the test matrix"
models = ["digits-cnn"]
recipes = ["none"]
targets = ["rpi4"]
[devices]
rpi4 = ["rpi4-emu"]
[profiling]
blocks = 2
runs = 5
warmup = 1
"""


def test_release_layout_and_provenance(released):
    manifest = dist.read_manifest(released.folder)
    assert manifest["previous"] is None and "first release" in manifest["gates"]
    assert len(manifest["cells"]) == 8
    assert manifest["profiles_skipped"] == {"x86-64-v3": "plan 'test' lists no devices for target x86-64-v3"}
    assert set(manifest["files"]) == set(dist.file_entries(released.folder))
    for name in ("report.html", "CHANGELOG.md"):
        assert name in manifest["files"]
    page = (released.folder / "report.html").read_text()
    assert "<h1>Release 1.0.0</h1>" in page and "edgebuild results" in page  # the history's page, headed
    assert "rpi4-emu" in page  # the side-by-side profiles went into the history the page is drawn from
    rpi4 = [c for c in manifest["cells"] if c["target"] == "rpi4"]
    assert all(len(c["profiles"]) == 1 and c["profiles"][0]["emulated"] for c in rpi4)
    cell = rpi4[0]
    stmt = json.loads((released.folder / cell["provenance"]).read_text())
    assert stmt["_type"] == "https://in-toto.io/Statement/v1"
    assert stmt["predicateType"] == "https://slsa.dev/provenance/v1"
    names = {s["name"] for s in stmt["subject"]}
    assert {f"{cell['path']}/{f}" for f in ("model.so", "model.weights", "model.onnx", "reference.npz", "manifest.json")} == names
    deps = stmt["predicate"]["buildDefinition"]["resolvedDependencies"]
    uris = [d["uri"] for d in deps]
    assert "file:recipes/none.toml" in uris or "file:recipes/int8-static.toml" in uris
    assert "file:targets/rpi4.toml" in uris
    commit = git(released.project.root, "rev-parse", "HEAD").strip()
    assert any(d["digest"].get("gitCommit") == commit for d in deps)
    assert verify(released.folder).bundles == 8


def _copy(released, name: str) -> Path:
    copy = released.folder.parent / name
    shutil.copytree(released.folder, copy)
    return copy


def test_verify_catches_flipped_byte_and_extra_file(released):
    flipped = _copy(released, "flipped")
    so = flipped / "bundles/tiny/none/x86-64-v3/model.so"
    data = bytearray(so.read_bytes())
    data[len(data) // 2] ^= 1
    so.write_bytes(bytes(data))
    with pytest.raises(VerifyFailed, match="changed: bundles/tiny/none/x86-64-v3/model.so"):
        verify(flipped)
    extra = _copy(released, "extra")
    (extra / "bundles/tiny/none/rpi4/notes.txt").write_text("not released")
    # the command line: exit status 1, the reason, no traceback
    done = subprocess.run([sys.executable, "-m", "invoke", "release.verify", str(extra)], cwd=released.project.root,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1
    assert "added: bundles/tiny/none/rpi4/notes.txt" in done.stderr and "Traceback" not in done.stderr
    shutil.rmtree(flipped), shutil.rmtree(extra)


def test_refuses_dirty_worktree_and_existing_version(released):
    root = released.project.root
    with pytest.raises(ReleaseRefused, match="1.0.0 exists"):
        release(released.project, ReleaseRequest(plan="test", version="1.0.0"), say=lambda s: None)
    (root / "targets" / "rpi4.toml").write_text((root / "targets" / "rpi4.toml").read_text() + "\n# edited\n")
    try:
        with pytest.raises(ReleaseRefused, match="(?s)uncommitted changes.*M targets/rpi4.toml"):
            release(released.project, ReleaseRequest(plan="test", version="9.9.9"), say=lambda s: None)
    finally:
        git(root, "checkout", "--", "targets/rpi4.toml")
    assert not (root / "dist" / "9.9.9").exists()


def _slow_previous(released) -> Path:
    """A previous release whose digits-cnn:none:rpi4 bundle is the tiny model's: the new digits-cnn
    bundle is then many times slower on the same board (an injected regression, far past 2x)."""
    fast = released.folder.parent / "0.9.0-fast"
    shutil.copytree(released.folder, fast)
    slot = fast / "bundles/digits-cnn/none/rpi4"
    shutil.rmtree(slot)
    shutil.copytree(released.folder / "bundles/tiny/none/rpi4", slot)
    manifest = dist.read_manifest(fast)
    manifest["version"] = "0.9.0-fast"
    manifest["files"] = dist.file_entries(fast)
    dist.write_json(fast / dist.MANIFEST, manifest)
    return fast


def test_gate_refuses_injected_regression_then_allow_records_it(released):
    root = released.project.root
    (root / "releases" / "gate.toml").write_text(GATE_PLAN)
    git(root, "add", "releases/gate.toml")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "gate plan")
    previous = _slow_previous(released)
    request = ReleaseRequest(plan="gate", version="2.0.0", previous=previous)
    with pytest.raises(ReleaseRefused) as refused:
        release(released.project, request, say=print)
    text = str(refused.value)
    assert "latency ratio of medians @rpi4-emu (emulated)" in text and "REGRESSION" in text
    ratio = float(next(ln for ln in text.splitlines() if "latency ratio" in ln).split()[-3].replace(",", ""))
    assert ratio >= 2.0
    assert not (root / "dist" / "2.0.0").exists() and not list((root / "dist").glob(".2.0.0*"))
    reason = "digits-cnn replaces the placeholder model: slower by design"
    request = ReleaseRequest(plan="gate", version="2.0.0", previous=previous,
                             allow=(f"digits-cnn:none:rpi4:{reason}",))
    out = release(released.project, request, say=print)
    manifest = dist.read_manifest(out)
    assert manifest["allowed"] == [{"cell": "digits-cnn:none:rpi4", "reason": reason, "regressed": True}]
    assert reason in (out / "CHANGELOG.md").read_text()
    assert verify(out).bundles == 1


def test_rebuild_reproduces_model_bytes(released):
    out = released.project.root / "dist" / "2.0.0"
    if not out.exists():
        pytest.skip("needs the release made by the gate test")
    first = verify(out, released.project, rebuild=True, say=print)
    assert first.rebuilt == ["digits-cnn:none:rpi4"]
    assert all(not any(f in n for f in ("model.so", "model.weights", "model.onnx")) for n in first.notes)
    assert any("timings_s" in n for n in first.notes)  # named metadata that may differ
    assert verify(out).summary() == verify(out).summary()
