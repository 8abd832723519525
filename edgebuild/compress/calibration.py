"""Where int8 calibration samples come from: the model's own data, a user's .npz, or (explicitly) random.

An .npz holds one array per graph input, named like the input, with samples along the first axis
(`N x` the input's shape without its batch axis, or exactly the input's shape repeated N times).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError

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
        found = _from_file(Path(source), specs, count)
        notes["calibration"] = f"file {Path(source).name}"
    notes["calibration_samples"] = len(found)
    return found


def _random(rng, spec) -> np.ndarray:
    dtype = np.dtype(spec.dtype)
    if dtype.kind == "f":
        return rng.standard_normal(spec.shape).astype(dtype)
    return np.zeros(spec.shape, dtype)


def _from_file(path: Path, specs, count: int) -> list[dict[str, np.ndarray]]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"--calibration={path}: not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelError(f"--calibration={path}: a single .npy array; calibration needs an .npz with one array per "
                         f"input, named like it (np.savez(FILE, {specs[0].name}=samples, ...))")
    with data:
        missing = [s.name for s in specs if s.name not in data.files]
        if missing:
            raise ModelError(f"--calibration={path}: no array for input(s) {', '.join(missing)}; it has "
                             f"{', '.join(data.files) or 'none'}. Save one array per graph input, named like it")
        try:
            arrays = {s.name: data[s.name] for s in specs}
        except ValueError:  # np.load without pickles refuses object arrays
            raise ModelError(f"--calibration={path}: holds object arrays (pickled Python objects, never loaded); "
                             f"save numeric arrays, one per input") from None
    out = []
    for spec in specs:
        a, batch = arrays[spec.name], spec.shape[0]
        if tuple(a.shape[1:]) != tuple(spec.shape[1:]):
            raise ModelError(f"--calibration={path}: array {spec.name!r} has shape {a.shape}; expected N x "
                             f"{list(spec.shape[1:])} (samples along the first axis)")
        arrays[spec.name] = a.astype(spec.dtype)
    n = min(len(a) for a in arrays.values()) // specs[0].shape[0]
    for i in range(min(n, count)):
        out.append({k: v[i * specs[0].shape[0]:(i + 1) * specs[0].shape[0]] for k, v in arrays.items()})
    if not out:
        raise ModelError(f"--calibration={path}: fewer samples than one batch of {specs[0].shape[0]}")
    return out
