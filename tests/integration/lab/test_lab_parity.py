"""On-device parity of a graph that quantizes activations at run time (int8-dynamic): the bundle carries
its metric samples in reference.npz, and the emulated Pi passes it when most inputs are within."""

import json

import numpy as np
import pytest

from edgebuild import bundle
from edgebuild.flows import build as builder
from edgebuild.flows import jobs
from edgebuild.lab.agent_run import AgentOptions

OPTIONS = AgentOptions(runs=5, min_seconds=0.1, warmup=1, timeout=300)


def quiet(_):
    pass


@pytest.fixture(scope="module")
def dynamic(lab, tmp_path_factory):
    out = tmp_path_factory.mktemp("dynamic") / "b"
    builder.build(lab.project, builder.BuildRequest(target=lab.device.target, recipe="int8-dynamic", out=str(out)),
                  say=quiet)
    return out


def profile(lab, folder):
    (outcome,) = jobs.profile_on(lab.project, lab.device.name, jobs.Artifact(bundle=folder), OPTIONS, say=quiet)
    return outcome


def test_int8_dynamic_bundle_carries_its_samples_and_passes_on_the_device(lab, dynamic):
    manifest = json.loads((dynamic / bundle.MANIFEST).read_text())
    assert manifest["parity_rule"] == "majority" and manifest["parity_inputs"] == builder.PARITY_SAMPLES + 1
    assert manifest["metrics"]["onnxruntime_parity_inputs"] == manifest["parity_inputs"]
    with np.load(dynamic / bundle.REFERENCE) as ref:
        cases = {key.split("/", 1)[0] for key in ref.files if key.startswith("case")}
        assert cases == {f"case{k}" for k in range(1, manifest["parity_inputs"])}
        assert not np.array_equal(ref["case1/input/image"], ref["input/image"])  # other inputs, not copies
    outcome = profile(lab, dynamic)
    assert outcome.ok, outcome.error
    r = outcome.result
    assert r["parity_inputs"] == manifest["parity_inputs"] and r["parity_inputs_within"] * 2 > r["parity_inputs"]


def test_a_bundle_off_on_most_of_its_inputs_fails_on_the_device(lab, dynamic, tmp_path):
    folder = tmp_path / "off"
    folder.mkdir()
    for name in (bundle.SO, bundle.WEIGHTS):
        (folder / name).write_bytes((dynamic / name).read_bytes())
    manifest = json.loads((dynamic / bundle.MANIFEST).read_text())
    with np.load(dynamic / bundle.REFERENCE) as ref:
        arrays = {key: ref[key] for key in ref.files}
    for k in range(1, manifest["parity_inputs"] // 2 + 2):  # half the inputs and one more: no majority left
        arrays[f"case{k}/output/logits"] = arrays[f"case{k}/output/logits"] + 1.0
    with open(folder / bundle.REFERENCE, "wb") as f:
        np.savez(f, **arrays)
    bundle.write_manifest(folder, {k: v for k, v in manifest.items() if k not in ("schema", "files")})
    outcome = profile(lab, folder)
    assert not outcome.ok
    within = manifest["parity_inputs"] - manifest["parity_inputs"] // 2 - 1
    assert f"within on {within} of {manifest['parity_inputs']} inputs" in outcome.error, outcome.error
