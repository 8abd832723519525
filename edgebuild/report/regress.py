"""Regressions against a pooled baseline: the median of the last N comparable runs, with their spread.

Comparable runs share kind, model, recipe, target, device, engine and toolchain. A run is flagged when its
p50 is worse than that median by more than k median absolute deviations and by more than a floor
(a fraction of the median), so one noisy earlier run neither hides nor invents a regression.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..history import Run


@dataclass(frozen=True)
class Settings:
    runs: int = 5  # N: how many earlier comparable runs make the baseline
    mads: float = 3.0  # k
    floor: float = 0.05  # and at least this fraction of the baseline median

    def describe(self) -> str:
        return (f"a run is flagged when its p50 exceeds the median of the last {self.runs} comparable runs (same "
                f"model, recipe, target, device, engine and toolchain; invalid runs left out) by more than "
                f"{self.mads:g} x their median absolute deviation and by more than {self.floor:.0%}")


@dataclass(frozen=True)
class Verdict:
    baseline_runs: int  # earlier comparable runs available (the baseline needs Settings.runs)
    median: float | None = None
    mad: float | None = None
    change: float | None = None  # (p50 - median) / median
    flagged: bool = False


def comparable(run: Run) -> tuple:
    return (run.kind, run.model, run.recipe, run.target, run.device, run.engine, run.toolchain)


def verdicts(runs: list[Run], settings: Settings) -> dict[str, Verdict]:
    """uid -> Verdict for every timed run (runs in time order)."""
    earlier: dict[tuple, list[float]] = {}
    out = {}
    for run in runs:
        if run.p50_ms is None:
            continue
        history = earlier.setdefault(comparable(run), [])
        pool = history[-settings.runs:]
        if len(pool) < settings.runs:
            out[run.uid] = Verdict(len(pool))
        else:
            median = statistics.median(pool)
            mad = statistics.median(abs(v - median) for v in pool)
            excess = run.p50_ms - median
            out[run.uid] = Verdict(len(pool), median, mad, excess / median if median else None,
                                   excess > settings.mads * mad and excess > settings.floor * median)
        if run.valid is not False:
            history.append(run.p50_ms)
    return out
