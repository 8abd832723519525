"""Where int8 calibration samples come from: the model's own data, a user's .npz (models/samples.py),
or (explicitly) random."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..models.samples import batches

RANDOM = "random"


def samples(model, specs, count: int, source: str | None, notes: dict) -> list[dict[str, np.ndarray]]:
    if source is None:
        try:
            found = model.calibration_inputs(specs, count)
        except ModelError as exc:
            raise ModelError(f"{exc}: pass --calibration=FILE.npz (real samples, one array per input), or "
                             "--calibration=random to calibrate on synthetic data (marked as such)") from None
        notes["calibration"] = getattr(model, "calibration_source", "model dataset")
    elif source == RANDOM:
        rng = np.random.default_rng(0)
        found = [{s.name: _random(rng, s) for s in specs} for _ in range(count)]
        notes["calibration"] = "random (synthetic: scales may not fit real data)"
    else:
        found = batches(Path(source), specs, count, "calibration")
        notes["calibration"] = f"file {Path(source).name}"
    notes["calibration_samples"] = len(found)
    return found


def _random(rng, spec) -> np.ndarray:
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(spec.shape).astype(dtype)
    return np.zeros(spec.shape, dtype)
