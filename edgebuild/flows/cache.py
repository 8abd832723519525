"""The build cache key: a hash of everything that changes the bytes of a bundle.

Computing it imports neither torch nor TVM, so an unchanged rebuild costs well under a second.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..models.base import TensorSpec, sha256_file
from ..targets import Target, host_cpu_fingerprint

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # edgebuild/


def folder_digest(folder: Path, pattern: str = "*", skip: tuple[str, ...] = ()) -> str:
    """sha256 over the relative paths and contents of the files under `folder` (empty if absent),
    leaving out subfolders named in `skip`."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts
                           and not set(skip) & set(p.relative_to(folder).parts[:-1])):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + sha256_file(path).encode())
    return digest.hexdigest()


def build_key(*, model_fingerprint: str, specs: list[TensorSpec], recipe_file: Path, target_file: Path,
              target: Target, tuning_dir: Path | None, versions: dict[str, str]) -> str:
    parts: dict[str, Any] = {
        "model": model_fingerprint,
        "inputs": [s.to_json() for s in specs],
        "recipe": sha256_file(recipe_file),
        "target": sha256_file(target_file),
        # mcpu = "native" compiles for whatever CPU this machine has.
        "cpu": host_cpu_fingerprint() if target.is_native else None,
        "tuning": folder_digest(tuning_dir / target.name) if tuning_dir else None,  # None: records not applied
        # The version number does not move with every change during development; the source does.
        # The device lab (deploy/profile), the results history and report, and the release flow run
        # after the bundle exists and never change its bytes.
        "edgebuild": folder_digest(PACKAGE_DIR, "*.py", skip=("lab", "history", "report", "release")),
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
