"""Inputs a user gives as an .npz: one array per graph input, named like the input. Read without
pickles; every error names the option, the file and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError


def batches(path: Path, specs, count: int, option: str) -> list[dict[str, np.ndarray]]:
    """Up to `count` batches of the inputs `specs` from `path` (given as `--option=path`): samples along
    the first axis (`N x` the input's shape without its batch axis, or the input's shape repeated)."""
    where = f"--{option}={path}"
    arrays = _arrays(path, specs, where)
    for spec in specs:
        a = arrays[spec.name]
        if tuple(a.shape[1:]) != tuple(spec.shape[1:]):
            raise ModelError(f"{where}: array {spec.name!r} has shape {a.shape}; expected N x "
                             f"{list(spec.shape[1:])} (samples along the first axis)")
        arrays[spec.name] = a.astype(spec.dtype)
    batch = specs[0].shape[0]
    n = min(len(a) for a in arrays.values()) // batch
    out = [{k: v[i * batch:(i + 1) * batch] for k, v in arrays.items()} for i in range(min(n, count))]
    if not out:
        raise ModelError(f"{where}: fewer samples than one batch of {batch}")
    return out


def one(path: Path, specs, option: str) -> dict[str, np.ndarray]:
    """One input of exactly the shapes `specs` from `path` (given as `--option=path`)."""
    where = f"--{option}={path}"
    arrays = _arrays(path, specs, where)
    for spec in specs:
        a = arrays[spec.name]
        if tuple(a.shape) != tuple(spec.shape):
            raise ModelError(f"{where}: array {spec.name!r} has shape {list(a.shape)}; the input's is "
                             f"{list(spec.shape)} (fix other shapes with --input-shape)")
        if not np.can_cast(a.dtype, spec.dtype, casting="same_kind"):
            raise ModelError(f"{where}: array {spec.name!r} is {a.dtype}; the input is {spec.dtype}")
        arrays[spec.name] = a.astype(spec.dtype)
    return arrays


def _arrays(path: Path, specs, where: str) -> dict[str, np.ndarray]:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{where}: not a readable .npz file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ModelError(f"{where}: a single .npy array; give an .npz with one array per input, named like it "
                         f"(np.savez(FILE, {specs[0].name if specs else 'x'}=..., ...))")
    with data:
        missing = [s.name for s in specs if s.name not in data.files]
        if missing:
            raise ModelError(f"{where}: no array for input(s) {', '.join(missing)}; it has "
                             f"{', '.join(data.files) or 'none'}. Save one array per graph input, named like it")
        try:
            return {s.name: data[s.name] for s in specs}
        except ValueError:  # np.load without pickles refuses object arrays
            raise ModelError(f"{where}: holds object arrays (pickled Python objects, never loaded); "
                             f"save numeric arrays, one per input") from None
