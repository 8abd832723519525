"""The device-side scripts are plain stdlib Python: run them here with this machine's Python."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from edgebuild.lab.device import source


def run(script, *args):
    done = subprocess.run([sys.executable, "-", *map(str, args)], input=source(script), capture_output=True,
                          text=True, timeout=60)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def stage(work, staging, files, manifest_extra=None):
    folder = work / "bundles" / staging
    folder.mkdir(parents=True)
    entries = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest = json.dumps({"files": entries, **(manifest_extra or {})}).encode()
    (folder / "manifest.json").write_bytes(manifest)
    return hashlib.sha256(manifest).hexdigest()


def test_probe_reports_this_python(tmp_path):
    status, data = run("probe.py", tmp_path / "work")
    assert status == 0 and data["machine"] == os.uname().machine
    assert data["python"][:2] == list(sys.version_info[:2]) and data["runtime"] is None and data["free_bytes"] > 0


def test_bundle_verified_then_switched_atomically(tmp_path):
    work = tmp_path / "work"
    sha = stage(work, ".tmp-aaaa", {"model.so": b"so1", "reference.npz": b"ref1"})
    status, data = run("commit.py", "bundle", work, "m--r--t", ".tmp-aaaa", sha, "model.so", "reference.npz")
    assert status == 0 and data["ok"]
    link = work / "bundles" / "m--r--t"
    assert link.is_symlink() and (link / "model.so").read_bytes() == b"so1"
    first = os.path.realpath(link)
    # a second version replaces the first; the old version folder is removed
    sha2 = stage(work, ".tmp-bbbb", {"model.so": b"so2", "reference.npz": b"ref2"})
    assert run("commit.py", "bundle", work, "m--r--t", ".tmp-bbbb", sha2, "model.so", "reference.npz")[0] == 0
    assert (link / "model.so").read_bytes() == b"so2" and not os.path.exists(first)


def test_corrupted_file_fails_closed(tmp_path):
    work = tmp_path / "work"
    sha = stage(work, ".tmp-aaaa", {"model.so": b"good", "reference.npz": b"ref"})
    assert run("commit.py", "bundle", work, "m", ".tmp-aaaa", sha, "model.so", "reference.npz")[0] == 0
    sha = stage(work, ".tmp-bbbb", {"model.so": b"new!", "reference.npz": b"ref"})
    (work / "bundles" / ".tmp-bbbb" / "model.so").write_bytes(b"bad!")  # same size, other bytes
    status, data = run("commit.py", "bundle", work, "m", ".tmp-bbbb", sha, "model.so", "reference.npz")
    assert status == 3 and "model.so sha256" in data["error"] and "nothing deployed" in data["error"]
    assert (work / "bundles" / "m" / "model.so").read_bytes() == b"good"  # previous deploy intact
    assert not (work / "bundles" / ".tmp-bbbb").exists()


def test_compressed_uploads_are_inflated_then_verified(tmp_path):
    import zlib

    work = tmp_path / "work"
    sha = stage(work, ".tmp-aaaa", {"model.so": b"so" * 1000, "reference.npz": b"ref"})
    folder = work / "bundles" / ".tmp-aaaa"
    (folder / "model.so.z").write_bytes(zlib.compress((folder / "model.so").read_bytes(), 9))
    (folder / "model.so").unlink()
    status, data = run("commit.py", "bundle", work, "m", ".tmp-aaaa", sha, "model.so", "reference.npz")
    assert status == 0 and (work / "bundles" / "m" / "model.so").read_bytes() == b"so" * 1000
    assert not (work / "bundles" / "m" / "model.so.z").exists()

    sha = stage(work, ".tmp-bbbb", {"model.so": b"new" * 1000, "reference.npz": b"ref"})
    folder = work / "bundles" / ".tmp-bbbb"
    (folder / "model.so.z").write_bytes(zlib.compress(b"new" * 1000, 9)[:-9])  # cut off mid-stream
    (folder / "model.so").unlink()
    status, data = run("commit.py", "bundle", work, "m", ".tmp-bbbb", sha, "model.so", "reference.npz")
    assert status == 3 and "nothing deployed: model.so: compressed upload is truncated" in data["error"]
    assert (work / "bundles" / "m" / "model.so").read_bytes() == b"so" * 1000 and not folder.exists()


def test_manifest_must_match_the_hosts(tmp_path):
    work = tmp_path / "work"
    stage(work, ".tmp-aaaa", {"model.so": b"x"})
    status, data = run("commit.py", "bundle", work, "m", ".tmp-aaaa", "0" * 64, "model.so")
    assert status == 3 and "manifest.json sha256" in data["error"]


def test_clean_removes_leftovers_of_killed_runs(tmp_path):
    work = tmp_path / "work"
    sha = stage(work, ".tmp-live", {"model.so": b"x"})
    run("commit.py", "bundle", work, "m", ".tmp-live", sha, "model.so")
    stage(work, ".tmp-dead", {"model.so": b"half"})
    (work / "runtime" / ".upload-abc.tar.gz").write_bytes(b"half")
    status, data = run("commit.py", "clean", work)
    assert sorted(data["removed"]) == [".tmp-dead", "runtime/.upload-abc.tar.gz"] and (work / "bundles" / "m" / "model.so").is_file()


def test_runtime_archive_checked_and_unpacked(tmp_path):
    work = tmp_path / "work"
    (work / "runtime").mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"lib"
        info = tarfile.TarInfo("site/tvm/lib/libtvm_runtime.so")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    rid = hashlib.sha256(buf.getvalue()).hexdigest()
    (work / "runtime" / f".upload-{rid}.tar.gz").write_bytes(buf.getvalue())
    status, data = run("commit.py", "runtime", work, rid)
    assert status == 0 and (work / "runtime" / rid / "site/tvm/lib/libtvm_runtime.so").is_file()
    assert json.loads((work / "runtime" / "current.json").read_text())["id"] == rid
    status, probe = run("probe.py", work)
    assert probe["runtime"]["present"] and probe["runtime"]["id"] == rid
    # a corrupted upload is refused and removed
    (work / "runtime" / f".upload-{'0' * 64}.tar.gz").write_bytes(b"junk")
    status, data = run("commit.py", "runtime", work, "0" * 64)
    assert status == 3 and "upload corrupted" in data["error"]


def _archive(tmp_path, member):
    work = tmp_path / "work"
    (work / "runtime").mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isreg() else None)
    rid = hashlib.sha256(buf.getvalue()).hexdigest()
    (work / "runtime" / f".upload-{rid}.tar.gz").write_bytes(buf.getvalue())
    return work, rid


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_runtime_archive_with_links_or_devices_is_refused(tmp_path, kind):
    member = tarfile.TarInfo("site/tvm/lib/libtvm_runtime.so")
    member.type, member.linkname = kind, "/etc/passwd"
    work, rid = _archive(tmp_path, member)
    status, data = run("commit.py", "runtime", work, rid)
    assert status == 3 and "only regular files and folders" in data["error"], data
    assert not (work / "runtime" / rid).exists()


@pytest.mark.parametrize("name", ["../victim", "m--r--t/../../victim", ".v-hidden", "a/b", ""])
def test_device_refuses_bundle_names_that_are_not_one_plain_name(tmp_path, name):
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    sha = stage(work, ".tmp-aaaa", {"model.so": b"so1"})
    status, data = run("commit.py", "bundle", work, name, ".tmp-aaaa", sha, "model.so")
    assert status == 3 and "bundle name" in data["error"], data
    assert (outside / "keep").read_text() == "x"


def test_device_removes_only_its_own_version_folders(tmp_path):
    work = tmp_path / "work"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (work / "bundles").mkdir(parents=True)
    (work / "bundles" / "m").symlink_to(outside)  # planted: bundles/m points out of the work dir
    sha = stage(work, ".tmp-aaaa", {"model.so": b"so1"})
    status, data = run("commit.py", "bundle", work, "m", ".tmp-aaaa", sha, "model.so")
    assert status == 0 and (outside / "keep").read_text() == "x"


def test_remove_takes_one_deployed_bundle_off_and_only_by_a_plain_name(tmp_path):
    work = tmp_path / "work"
    for name, staging in (("m--p-1--t", ".tmp-aaaa"), ("m--none--t", ".tmp-bbbb")):
        sha = stage(work, staging, {"model.so": b"so", "reference.npz": b"ref"})
        assert run("commit.py", "bundle", work, name, staging, sha, "model.so", "reference.npz")[0] == 0
    version = os.path.realpath(work / "bundles" / "m--p-1--t")
    status, data = run("commit.py", "remove", work, "m--p-1--t")
    assert status == 0 and data["removed"] == ["m--p-1--t", os.path.basename(version)]
    assert not os.path.lexists(work / "bundles" / "m--p-1--t") and not os.path.exists(version)
    assert (work / "bundles" / "m--none--t" / "model.so").read_bytes() == b"so"  # the other bundle stays
    assert run("commit.py", "remove", work, "m--p-1--t") == (0, {"ok": True, "removed": []})  # already gone
    # a link planted to a folder outside bundles/ loses the link, never the folder
    outside = tmp_path / "keep"
    outside.mkdir()
    os.symlink(outside, work / "bundles" / "planted")
    assert run("commit.py", "remove", work, "planted")[1]["removed"] == ["planted"] and outside.is_dir()
    for bad in ("../keep", "..", ".v-x", "a/b"):
        status, data = run("commit.py", "remove", work, bad)
        assert status == 3 and not data["ok"] and "plain name" in data["error"]
    assert outside.is_dir()
