import numpy as np
import pytest

from edgebuild import bundle


def make_bundle(folder, payload=b"so"):
    (folder / bundle.SO).write_bytes(payload)
    bundle.write_reference(folder / bundle.REFERENCE, [({"x": np.ones(2)}, {"y": np.zeros(3)})])
    bundle.write_manifest(folder, {"cache_key": "k", "model": {"name": "m"}, "recipe": {"name": "r"},
                                   "target": {"name": "t", "arch": "x86_64"}, "inputs": [], "outputs": []})


def test_staged_replaces_only_when_complete(tmp_path):
    out = tmp_path / "b"
    with bundle.staged(out) as tmp:
        make_bundle(tmp, b"first")
    assert (out / bundle.SO).read_bytes() == b"first"
    with pytest.raises(RuntimeError):
        with bundle.staged(out) as tmp:
            (tmp / bundle.SO).write_bytes(b"half")
            raise RuntimeError("compile failed")
    assert (out / bundle.SO).read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no partial or old folders left
    with bundle.staged(out) as tmp:
        make_bundle(tmp, b"second")
    assert (out / bundle.SO).read_bytes() == b"second" and sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_manifest_lists_every_file_and_detects_tampering(tmp_path):
    make_bundle(tmp_path)
    manifest = bundle.read_manifest(tmp_path)
    assert manifest["schema"] == bundle.SCHEMA_VERSION and set(manifest["files"]) == {bundle.SO, bundle.REFERENCE}
    assert bundle.intact(tmp_path, manifest)
    (tmp_path / bundle.SO).write_bytes(b"sO")  # same size, other bytes
    assert not bundle.intact(tmp_path, manifest)
    (tmp_path / bundle.SO).unlink()
    assert not bundle.intact(tmp_path, manifest)


def test_reference_round_trip(tmp_path):
    path = tmp_path / "r.npz"
    more = ({"a/b": np.arange(3) + 10}, {"out": np.zeros((2, 2))})
    bundle.write_reference(path, [({"a/b": np.arange(3)}, {"out": np.ones((2, 2))}), more])
    inputs, outputs = bundle.read_reference(path)  # the reference input only
    assert set(inputs) == {"a/b"} and set(outputs) == {"out"}
    assert np.array_equal(inputs["a/b"], np.arange(3)) and outputs["out"].shape == (2, 2)
    with np.load(path) as data:  # further cases under caseK/, as the device agent reads them
        assert np.array_equal(data["case1/input/a/b"], np.arange(3) + 10) and not data["case1/output/out"].any()


def test_missing_or_corrupt_manifest_reads_as_none(tmp_path):
    assert bundle.read_manifest(tmp_path) is None
    (tmp_path / bundle.MANIFEST).write_text("{not json")
    assert bundle.read_manifest(tmp_path) is None


def test_only_bundles_or_empty_folders_may_be_replaced(tmp_path):
    from edgebuild.errors import UsageError

    bundle.check_replaceable(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    bundle.check_replaceable(tmp_path / "empty")
    make_bundle(tmp_path / "empty")
    bundle.check_replaceable(tmp_path / "empty")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("years of work")
    with pytest.raises(UsageError, match="exists and is not an edgebuild bundle"):
        bundle.check_replaceable(tmp_path / "home")
    with pytest.raises(UsageError):
        bundle.check_replaceable(tmp_path / "home" / "thesis.tex")
