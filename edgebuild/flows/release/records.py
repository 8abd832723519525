"""Where the release keeps its side-by-side profiles, so a resumed release does not time again.

A seam: the results history (flows/history.py) is the home of every profile; until the release's
comparisons are rows there, each is kept as raw JSON under results/release/.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...project import Project
from .plan import Profiling


def _path(project: Project, device: str, new: str, previous: str | None, profiling: Profiling) -> Path:
    settings = f"b{profiling.blocks}r{profiling.runs}w{profiling.warmup}"
    return project.root / "results" / "release" / device / f"{new[:16]}--{(previous or 'none')[:16]}--{settings}.json"


def stored(project: Project, device: str, new: str, previous: str | None, profiling: Profiling) -> dict | None:
    path = _path(project, device, new, previous, profiling)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def store(project: Project, result: dict, profiling: Profiling) -> Path:
    b = result["bundles"]
    path = _path(project, result["device"], b["new"]["bundle_sha256"],
                 b["previous"]["bundle_sha256"] if "previous" in b else None, profiling)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
