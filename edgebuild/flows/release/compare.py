"""One board, one job: the new bundle and the previous release's, timed side by side
(lab/side_by_side.py). Runs on the lab worker, which holds the board's Dask resource."""

from __future__ import annotations

from pathlib import Path

from ...lab.side_by_side import Blocks, time_on
from ...project import Project
from .plan import Profiling


def compare_on(root: str, device_name: str, bundles: dict[str, str], profiling: Profiling) -> dict:
    """{"new": folder, "previous": folder (optional)} timed on the device; one result dict."""
    timing = Blocks(profiling.blocks, profiling.runs, profiling.warmup, profiling.timeout)
    return time_on(Project(Path(root)), device_name, {k: Path(v) for k, v in bundles.items()}, timing,
                   "release comparison")


def ratios(result: dict) -> dict[str, float | None]:
    """new / previous: latency (ratio of medians), memory; None without a previous bundle."""
    new, old = result["bundles"]["new"], result["bundles"].get("previous")
    if old is None:
        return {"latency": None, "memory": None}
    memory = (new["memory_bytes"] / old["memory_bytes"]) if old["memory_bytes"] > 0 else None
    return {"latency": new["latency_ms"]["p50"] / old["latency_ms"]["p50"], "memory": memory}
