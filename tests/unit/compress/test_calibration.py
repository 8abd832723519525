import numpy as np
import pytest

from edgebuild.compress.calibration import RANDOM, samples
from edgebuild.errors import ModelError
from edgebuild.models.base import TensorSpec

SPECS = [TensorSpec("x", (2, 3), "float32")]


class NoData:
    name = "file-1234"

    def calibration_inputs(self, specs, count):
        raise ModelError("model 'file-1234' has no calibration data")


def test_a_model_without_data_asks_for_a_calibration_file():
    with pytest.raises(ModelError, match=r"--calibration=FILE.npz .* --calibration=random"):
        samples(NoData(), SPECS, 4, None, {})


def test_random_calibration_is_marked_as_synthetic():
    notes = {}
    found = samples(NoData(), SPECS, 3, RANDOM, notes)
    assert len(found) == 3 and found[0]["x"].shape == (2, 3) and "synthetic" in notes["calibration"]


def test_npz_samples_are_batched_to_the_static_shape(tmp_path):
    np.savez(tmp_path / "c.npz", x=np.arange(30, dtype=np.float64).reshape(10, 3))
    notes = {}
    found = samples(NoData(), SPECS, 100, str(tmp_path / "c.npz"), notes)
    assert len(found) == 5 and found[1]["x"].dtype == np.float32 and found[1]["x"][0, 0] == 6
    assert notes == {"calibration": "file c.npz", "calibration_samples": 5}


def test_npz_errors_name_the_input_and_the_expected_layout(tmp_path):
    np.savez(tmp_path / "c.npz", y=np.zeros((4, 3)))
    with pytest.raises(ModelError, match=r"no array for input\(s\) x; it has y"):
        samples(NoData(), SPECS, 4, str(tmp_path / "c.npz"), {})
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 5)))
    with pytest.raises(ModelError, match=r"expected N x \[3\]"):
        samples(NoData(), SPECS, 4, str(tmp_path / "d.npz"), {})


@pytest.mark.parametrize("kind", ["npy", "object"])
def test_calibration_file_errors_are_clear(tmp_path, kind):
    if kind == "npy":
        path = tmp_path / "c.npy"
        np.save(path, np.zeros((4, 2, 3), np.float32))
        match = r"\.npy.*one array per input"
    else:
        path = tmp_path / "c.npz"
        np.savez(path, x=np.array([{"a": 1}] * 4, dtype=object))
        match = "object"
    with pytest.raises(ModelError, match=match):
        samples(NoData(), SPECS, 4, str(path), {})
