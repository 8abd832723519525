"""The measuring protocol's rules: what a device's report turns into, and what counts as a valid cost."""

import json
import math

import pytest

from edgebuild.lab.measure_protocol import MARKER, Evaluator, batch_json, parse


def line(**data):
    return MARKER + json.dumps(data)


def test_batch_json_carries_the_evaluator_and_each_candidates_args():
    data = json.loads(batch_json([(3, "c3.so", [["TENSOR", "float32", [1, 8]]])], Evaluator(number=5)))
    assert data["evaluator"] == {"number": 5, "repeat": 1, "min_repeat_ms": 100}
    assert data["candidates"] == [{"index": 3, "file": "c3.so", "args": [["TENSOR", "float32", [1, 8]]]}]


def test_costs_and_errors_are_parsed_per_candidate_and_noise_is_ignored():
    out = "\n".join(["import noise", line(index=0, run_secs=[1e-4, 2e-4]), "Traceback? no",
                     line(index=1, error="TVMError: bad kernel"), MARKER + "{not json", line(index=9, run_secs=[1.0])])
    got = parse(out, {0, 1, 2})
    assert set(got) == {0, 1}  # 2 unreported; 9 was not asked for
    assert got[0].ok and got[0].run_secs == [1e-4, 2e-4]
    assert not got[1].ok and got[1].error == "on the device: TVMError: bad kernel"


@pytest.mark.parametrize("secs", [[], [0.0], [-1e-3], [math.inf], [True], ["1e-3"], None, 1e-3])
def test_invalid_run_secs_become_errors(secs):
    got = parse(MARKER + json.dumps({"index": 0, "run_secs": secs}, allow_nan=True), {0})
    assert not got[0].ok and "invalid run_secs" in got[0].error


def test_nan_is_not_a_cost():
    got = parse(MARKER + '{"index": 0, "run_secs": [NaN]}', {0})
    assert not got[0].ok
