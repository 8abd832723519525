import json

import pytest

from edgebuild.errors import ReleaseRefused, UsageError, VerifyFailed
from edgebuild.flows.release import dist
from edgebuild.flows.release.verify import check_files, verify


def make_release(folder):
    bundle = folder / "bundles" / "m" / "r" / "t"
    bundle.mkdir(parents=True)
    (bundle / "model.so").write_bytes(b"\x7fELF" + bytes(100))
    files = {"model.so": {"sha256": dist.file_entries(bundle)["model.so"]["sha256"], "bytes": 104}}
    (bundle / "manifest.json").write_text(json.dumps({"files": files}))
    entries = dist.file_entries(folder)
    stmt = {"subject": [{"name": k, "digest": {"sha256": v["sha256"]}} for k, v in entries.items()]}
    dist.write_json(folder / "provenance" / "m.json", stmt)
    manifest = {"version": "1", "cells": [{"key": "m:r:t", "path": "bundles/m/r/t", "provenance": "provenance/m.json"}],
                "files": dist.file_entries(folder)}
    dist.write_json(folder / dist.MANIFEST, manifest)


def test_verify_detects_each_kind_of_change(tmp_path):
    make_release(tmp_path)
    assert verify(tmp_path).files == 3
    (tmp_path / "extra").write_text("x")
    (tmp_path / "bundles/m/r/t/model.so").write_bytes(b"\x7fELF" + bytes(99) + b"\x01")
    problems = check_files(tmp_path, dist.read_manifest(tmp_path))
    assert problems[0] == "added: extra (not in release.json)"
    assert problems[1].startswith("changed: bundles/m/r/t/model.so")
    (tmp_path / "provenance/m.json").unlink()
    with pytest.raises(VerifyFailed, match="removed: provenance/m.json"):
        verify(tmp_path)


def test_provenance_must_match_the_manifest(tmp_path):
    make_release(tmp_path)
    stmt = json.loads((tmp_path / "provenance/m.json").read_text())
    stmt["subject"] = stmt["subject"][:1]
    dist.write_json(tmp_path / "provenance/m.json", stmt)
    manifest = dist.read_manifest(tmp_path)
    manifest["files"] = dist.file_entries(tmp_path)  # consistent hashes, wrong subjects
    dist.write_json(tmp_path / dist.MANIFEST, manifest)
    with pytest.raises(VerifyFailed, match="subjects differ"):
        verify(tmp_path)


def test_staged_never_overwrites_and_leaves_nothing_on_failure(tmp_path):
    out = dist.target_folder(tmp_path, "1.0")
    with pytest.raises(RuntimeError):
        with dist.staged(out) as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with dist.staged(out) as tmp:
        (tmp / "done").write_text("x")
    assert (out / "done").is_file()
    with pytest.raises(ReleaseRefused, match="never overwritten"):
        dist.target_folder(tmp_path, "1.0")
    with pytest.raises(UsageError, match="--version='../x'"):
        dist.target_folder(tmp_path, "../x")
