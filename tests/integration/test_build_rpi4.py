"""`invoke build --target=rpi4` end to end, as a user runs it."""

import json
import time

import pytest

from edgebuild.models.base import sha256_file
from edgebuild.schema import MANIFEST_SCHEMA_VERSION

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration
EM_AARCH64, EM_X86_64 = 183, 62


def elf_machine(path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    return int.from_bytes(header[18:20], "little")


@pytest.fixture(scope="module")
def rpi4_bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("rpi4") / "bundle"
    done = invoke(ROOT, "build", "--target=rpi4", f"--out={out}")
    assert done.returncode == 0, done.stderr
    return out, done


def test_bundle_is_aarch64_with_valid_manifest_and_accuracy(rpi4_bundle):
    out, done = rpi4_bundle
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.onnx", "model.so", "model.weights", "reference.npz"]
    assert elf_machine(out / "model.so") == EM_AARCH64
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == MANIFEST_SCHEMA_VERSION and manifest["target"]["name"] == "rpi4"
    assert manifest["model"]["name"] == "digits-cnn" and manifest["recipe"]["name"] == "none"
    for name, entry in manifest["files"].items():
        assert sha256_file(out / name) == entry["sha256"] and (out / name).stat().st_size == entry["bytes"]
    assert manifest["metrics"]["accuracy"] >= 97.0 and manifest["metrics"]["accuracy_samples"] >= 500
    assert manifest["metrics"]["max_abs_diff_vs_onnxruntime"] < 1e-4
    assert manifest["inputs"] == [{"name": "image", "shape": [1, 1, 8, 8], "dtype": "float32"}]
    assert manifest["toolchain"]["apache-tvm"].startswith("0.27")
    assert {"export", "compile", "metrics"} <= set(manifest["timings_s"])
    assert "accuracy=" in done.stdout


def test_unchanged_rebuild_does_no_work(rpi4_bundle):
    out, _ = rpi4_bundle
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    start = time.perf_counter()
    done = invoke(ROOT, "build", "--target=rpi4", f"--out={out}")
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and "up to date" in done.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert elapsed < 10  # measured ~0.3 s; the bound only catches a rebuild sneaking in


def test_same_inputs_give_byte_identical_artifacts(rpi4_bundle, tmp_path):
    out, _ = rpi4_bundle
    again = tmp_path / "again"
    done = invoke(ROOT, "build", "--target=rpi4", f"--out={again}")
    assert done.returncode == 0, done.stderr
    for name in ("model.so", "model.onnx"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_changed_target_file_rebuilds(tmp_project, tmp_path):
    out = tmp_path / "b"
    assert invoke(tmp_project.root, "build", "--target=arm64", f"--out={out}").returncode == 0
    first = (out / "model.so").read_bytes()
    path = tmp_project.targets_dir / "arm64.toml"
    path.write_text(path.read_text().replace('mcpu = "cortex-a53"', 'mcpu = "cortex-a55"'))
    done = invoke(tmp_project.root, "build", "--target=arm64", f"--out={out}")
    assert done.returncode == 0 and "up to date" not in done.stdout
    assert elf_machine(out / "model.so") == EM_AARCH64 and (out / "model.so").read_bytes() != first
