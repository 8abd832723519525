"""Bad input to the lab and the build: clear errors, nothing half-done (issue 11, part 1)."""

import json
import math

import numpy as np
import pytest

from edgebuild import bundle
from edgebuild.errors import DeviceError, UsageError
from edgebuild.lab import inventory
from edgebuild.lab.agent_run import AgentOptions
from edgebuild.lab.deploy import LocalBundle
from edgebuild.lab.inventory import Device


def a_bundle(folder, manifest):
    folder.mkdir()
    for name in bundle.DEVICE_FILES[:-1]:  # every file a deploy sends but the manifest
        (folder / name).write_bytes(b"x")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_empty_manifest_names_the_missing_field(tmp_path):
    with pytest.raises(DeviceError, match=r"manifest.json: field model.name is missing"):
        LocalBundle.open(a_bundle(tmp_path / "b", {}))


def test_out_replaces_only_a_real_bundle(tmp_path):
    folder = a_bundle(tmp_path / "mine", {"note": "not a bundle"})
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(UsageError, match="is not an edgebuild bundle"):
        bundle.check_replaceable(folder)
    manifest = {"model": {"name": "m"}, "recipe": {"name": "r"}, "target": {"name": "t", "arch": "x86_64"},
                "inputs": [], "outputs": [], "files": {n: {"sha256": "0" * 64, "bytes": 1} for n in bundle.DEVICE_FILES[:-1]}}
    real = a_bundle(tmp_path / "real", manifest)
    bundle.check_replaceable(real)  # a bundle: fine
    (real / "extra").write_text("x")
    with pytest.raises(UsageError, match="not exactly the files"):
        bundle.check_replaceable(real)


def test_out_expands_the_home_folder(monkeypatch, tmp_path):
    from edgebuild.flows.build import BuildRequest

    monkeypatch.setenv("HOME", str(tmp_path))
    assert BuildRequest(out="~/x").out == tmp_path / "x"


@pytest.mark.parametrize("options,field", [
    (dict(runs=0, min_seconds=0), "--runs"), (dict(timeout=0), "--timeout"), (dict(warmup=-3), "--warmup"),
    (dict(runs="abc"), "--runs"), (dict(min_seconds=float("nan")), "--min-seconds"), (dict(runs=-1), "--runs")])
def test_profile_options_are_checked(options, field):
    with pytest.raises(UsageError, match=field):
        AgentOptions.parse(**options)


def test_device_description_with_newline_and_quotes_round_trips(lab_project):
    text = 'first line\nsecond "quoted" line \\ and a tab\t'
    device = Device(target="rpi4", host="h", user="u", key_file="k", description=text, name="odd")
    inventory.write_local(lab_project, device)
    assert inventory.load(lab_project).get("odd").description == text


def test_parity_fails_on_nan_or_inf_in_any_output():
    from edgebuild.lab.device.parity import compare

    good = [np.ones(3, np.float32), np.zeros(2, np.float32)]
    assert compare(good, good)[2] is None
    bad = [np.ones(3, np.float32), np.array([0.0, math.nan], np.float32)]
    diff, _, error = compare(bad, good)
    assert error and "NaN" in error
    diff, _, error = compare([good[0], np.array([0.0, math.inf], np.float32)], good)
    assert error and "inf" in error


def _judge(offsets, rule, nan_at=None):
    """parity.judge over cases whose device outputs are off by `offsets` (tolerance 1e-3)."""
    from edgebuild.lab.device.parity import judge

    cases = [([np.full(2, k, np.float32)], [np.full(3, float(k), np.float32)]) for k in range(len(offsets))]

    def run(inputs):
        k = int(inputs[0][0])
        out = np.full(3, k + offsets[k], np.float32)
        if k == nan_at:
            out[0] = math.nan
        return [out]

    return judge(run, cases, {"parity_tolerance": 1e-3, "parity_rule": rule})


def test_a_run_time_quantized_bundle_passes_on_most_inputs_and_others_on_every_one():
    flipped = _judge([0.0, 0.01, 0.0], "majority")  # one input a whole step away, as a flip moves it
    assert flipped["parity_error"] is None and (flipped["parity_inputs"], flipped["parity_inputs_within"]) == (3, 2)
    assert flipped["parity_max_abs_diff"] == 0.0  # the reference input's own difference
    reference_flipped = _judge([0.01, 0.0, 0.0], "majority")
    assert reference_flipped["parity_error"] is None and reference_flipped["parity_max_abs_diff"] > 1e-3
    most = _judge([0.0, 0.01, 0.01], "majority")
    assert "within on 1 of 3 inputs" in most["parity_error"]
    every = _judge([0.0, 0.01, 0.0], "every")
    assert "exceeds" in every["parity_error"] and "within on 2 of 3 inputs" in every["parity_error"]
    assert _judge([0.0], "every")["parity_error"] is None


def test_nan_on_any_input_fails_even_when_most_are_within():
    judged = _judge([0.0, 0.0, 0.0], "majority", nan_at=2)
    assert "NaN" in judged["parity_error"] and judged["parity_inputs_within"] == 2


def test_a_crafted_parity_count_is_refused_on_the_host_and_on_the_device():
    from edgebuild.lab.device import parity
    from edgebuild.schema import MAX_PARITY_INPUTS

    assert parity.MAX_PARITY_INPUTS == MAX_PARITY_INPUTS  # the device script's own copy
    good = {"model": {"name": "m"}, "recipe": {"name": "r"}, "target": {"name": "t", "arch": "x86_64"},
            "files": {"model.so": {"sha256": "0" * 64, "bytes": 1}}, "inputs": [], "outputs": []}
    assert bundle.manifest_problem(good) is None and bundle.manifest_problem({**good, "parity_inputs": 9}) is None
    for count in (0, 10**9, "3", True):
        assert "parity_inputs" in bundle.manifest_problem({**good, "parity_inputs": count})
        with pytest.raises(ValueError, match="parity_inputs"):
            parity.reference_cases({}, {"parity_inputs": count, "inputs": [], "outputs": []})
    assert "parity_rule" in bundle.manifest_problem({**good, "parity_rule": "some"})
