"""The bundle a build writes: model.so, model.weights, model.onnx, reference.npz, manifest.json.

A bundle is assembled in a hidden sibling folder and renamed into place only when complete, so a
failed or interrupted build never leaves a partial bundle and never damages the previous one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .compile import weights
from .errors import UsageError
from .models.base import sha256_file
from .schema import MANIFEST_SCHEMA_VERSION, MAX_PARITY_INPUTS

SCHEMA_VERSION = MANIFEST_SCHEMA_VERSION
MANIFEST = "manifest.json"
SO, ONNX, REFERENCE = "model.so", "model.onnx", "reference.npz"
WEIGHTS = Path(weights.beside(SO)).name  # main(*inputs, *weights); see compile/weights.py
# What a deploy sends; model.onnx stays on the host.
DEVICE_FILES = (SO, WEIGHTS, REFERENCE, MANIFEST)


# Model, recipe and target names become folder names (build/, results/, the device's bundles/).
NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,127}$")


def manifest_problem(manifest: Any) -> str | None:
    """Why `manifest` is not an edgebuild bundle manifest (the field and what is wrong), or None."""
    if not isinstance(manifest, dict):
        return "is not a JSON object"
    for part in ("model", "recipe", "target"):
        entry = manifest.get(part)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return f"field {part}.name is missing"
        if not NAME.match(entry["name"]) or ".." in entry["name"]:
            return f"field {part}.name {entry['name']!r} is not a plain name (letters, digits, '_', '+', '-', '.')"
    if not isinstance(manifest["target"].get("arch"), str):
        return "field target.arch is missing"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return "field files is missing or empty"
    for name, entry in files.items():
        if "/" in name or name in (".", "..", MANIFEST) or not isinstance(entry, dict) \
                or not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("bytes"), int):
            return f"field files.{name} is not a file name with sha256 and bytes"
    for key in ("inputs", "outputs"):
        if not isinstance(manifest.get(key), list):
            return f"field {key} is missing"
    count = manifest.get("parity_inputs", 1)  # cases in reference.npz (lab/device/parity.py)
    if type(count) is not int or not 1 <= count <= MAX_PARITY_INPUTS:
        return f"field parity_inputs {count!r} is not a whole number from 1 to {MAX_PARITY_INPUTS}"
    if manifest.get("parity_rule", "every") not in ("every", "majority"):
        return f"field parity_rule {manifest['parity_rule']!r} is not 'every' or 'majority'"
    return None


def check_replaceable(out: Path) -> None:
    """Refuse to replace a folder that is not a bundle (a mistyped --out must not delete a home dir):
    only an empty folder, or one whose manifest validates and that holds exactly the files it lists."""
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink() or not out.is_dir():
        raise UsageError(f"--out={out}: exists and is not a folder; give a new or empty folder, or an earlier "
                         "bundle's folder")
    present = sorted(p.name for p in out.iterdir())
    if not present:
        return
    manifest = read_manifest(out)
    problem = f"no readable {MANIFEST}" if manifest is None else manifest_problem(manifest)
    problem = problem and f"{MANIFEST}: {problem}" if manifest is not None else problem
    if problem is None and present != sorted([*manifest["files"], MANIFEST]):
        problem = f"it holds {', '.join(present)}, not exactly the files its {MANIFEST} lists"
    if problem is not None:
        raise UsageError(f"--out={out}: exists and is not an edgebuild bundle ({problem}); nothing was changed. "
                         "Give a new or empty folder, or an earlier bundle's folder")


@contextlib.contextmanager
def staged(out: Path, replace: bool = True) -> Iterator[Path]:
    """Yields an empty folder; on success it replaces `out` (or, with replace=False, refuses to if
    `out` exists by then), on failure it is removed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if out.exists() and not replace:
            raise UsageError(f"{out} appeared while it was being written; it was not replaced")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def file_entries(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in the bundle except the manifest."""
    return {
        p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != MANIFEST
    }


# A deploy sends each payload file zlib-compressed as NAME.z; the device inflates it before verifying.
WIRE_SUFFIX = ".z"


def wire_encode(data: bytes) -> bytes:
    # zlib's default level: on the CRNN's 19 MB of weights level 9 took 32 s for 5.6% fewer bytes than
    # level 6's 3.9 s (measured 2026-11-29, load ~6.6); every build pays it for transfer_bytes.
    return zlib.compress(data, 6)


def transfer_bytes(folder: Path) -> int:
    """Bytes a deploy sends for the payload files (wire_encode'd)."""
    return sum(len(wire_encode((folder / name).read_bytes())) for name in DEVICE_FILES if name != MANIFEST)


def write_reference(path: Path, cases: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]) -> None:
    """(inputs, outputs) per case: the reference input first (input/NAME, output/NAME), then caseK/..."""
    arrays = {}
    for k, (inputs, outputs) in enumerate(cases):
        prefix = f"case{k}/" if k else ""
        arrays |= {f"{prefix}input/{n}": v for n, v in inputs.items()} | {f"{prefix}output/{n}": v for n, v in outputs.items()}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def read_reference(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(path) as data:
        inputs = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("input/")}
        outputs = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("output/")}
    return inputs, outputs


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    manifest = {"schema": SCHEMA_VERSION, **manifest, "files": file_entries(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def intact(folder: Path, manifest: dict[str, Any]) -> bool:
    """Every file the manifest lists is present with its recorded size and sha256."""
    for name, entry in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            return False
    return bool(manifest.get("files"))


def manifest_sha256(folder: Path) -> str:
    """Identifies a bundle (profile results and benchmarks refer to it by this)."""
    return sha256_file(folder / MANIFEST)
