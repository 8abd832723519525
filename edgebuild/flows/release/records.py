"""The release's side-by-side profiles in the results history, so a resumed release does not time again.

Each comparison becomes two `profile` rows (the new bundle and the previous one, each with its own
bundle_sha256 and figures); both keep the whole comparison in their data, under `side_by_side`,
with the key a resumed release looks it up by (device, both bundles, timing settings).
"""

from __future__ import annotations

from ...history import from_profile, here
from ...project import Project
from .. import history as results_history
from .plan import Profiling

SIDE_BY_SIDE = "side_by_side"


def _key(device: str, new: str, previous: str | None, profiling: Profiling) -> str:
    return f"{device}:{new}:{previous or '-'}:b{profiling.blocks}r{profiling.runs}w{profiling.warmup}"


def stored(project: Project, device: str, new: str, previous: str | None, profiling: Profiling) -> dict | None:
    key = _key(device, new, previous, profiling)
    for run in reversed(results_history.list_runs(project, device=device, kind="profile", say=lambda s: None)):
        found = run.data.get(SIDE_BY_SIDE) or {}
        if found.get("key") == key:
            return found["result"]
    return None


def store(project: Project, result: dict, profiling: Profiling) -> None:
    b = result["bundles"]
    key = _key(result["device"], b["new"]["bundle_sha256"], b["previous"]["bundle_sha256"] if "previous" in b else None,
               profiling)
    runs = []
    for role, entry in b.items():
        row = {k: result[k] for k in ("device", "target", "emulated", "emulator", "cpu_model", "machine", "python",
                                      "runtime", "time")}
        row.update(model=entry["model"], recipe=entry["recipe"], bundle_sha256=entry["bundle_sha256"], ok=entry["ok"],
                   latency_ms=entry["latency_ms"], load_ms=entry["load_ms"], model_rss_bytes=entry["memory_bytes"],
                   parity_max_abs_diff=entry["parity_max_abs_diff"], parity_tolerance=entry["parity_tolerance"],
                   **{SIDE_BY_SIDE: {"role": role, "key": key, "result": result}})
        runs.append(from_profile(row, here()))
    results_history.record(project, runs, say=lambda s: None)
