"""The report's table rows: per model, the latest run of each recipe x target x device x source.

Sources: `profile` (a device), `bench` (edgebuild's TVM build vs ONNX Runtime on the host that ran
it), `bench-compress` (host latency per recipe), and `build` for a recipe x target built but not yet
measured. Sizes and the quality metric of a profiled bundle come from its build row (same bundle_sha256).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..history import Run
from .regress import Verdict

MEASURED = ("profile", "bench", "bench-compress")


@dataclass(frozen=True)
class Row:
    latest: Run
    runs: int  # comparable runs in the history (this row shows the latest)
    build: Run | None
    verdict: Verdict | None

    @property
    def source(self) -> str:
        return self.latest.kind

    @property
    def key(self) -> str:
        r = self.latest
        return "|".join(str(v or "-") for v in (r.model, r.recipe, r.target, r.device, r.kind))

    def figure(self, name: str):
        """A size or quality figure: this run's own, else its build's."""
        own = getattr(self.latest, name)
        return own if own is not None or self.build is None else getattr(self.build, name)

    @property
    def validity(self) -> str:
        r = self.latest
        if r.kind == "build":
            return "built, not measured"
        if r.valid is None:
            return "not judged" if r.kind == "profile" else "n/a"
        if r.valid:
            return "valid"
        reasons = r.data.get("invalid_reasons") or r.data.get("reasons") or r.data.get("error") or ""
        if isinstance(reasons, list):
            reasons = "; ".join(map(str, reasons))
        return f"invalid: {reasons}" if reasons else "invalid"


def _group(run: Run) -> tuple:
    return (run.model, run.recipe, run.target, run.device, run.kind, run.engine)


def rows(runs: list[Run], verdicts: dict[str, Verdict]) -> dict[str, list[Row]]:
    """model -> its table rows, sorted by recipe, target, device, source. `runs` in time order."""
    builds = {r.bundle_sha256: r for r in runs if r.kind == "build" and r.bundle_sha256}
    latest: dict[tuple, Run] = {}
    counts: dict[tuple, int] = {}
    for run in runs:
        if run.kind in MEASURED and not (run.kind == "bench" and run.engine != "tvm"):
            latest[_group(run)] = run
            counts[_group(run)] = counts.get(_group(run), 0) + 1
    measured = {(r.model, r.recipe, r.target) for r in latest.values()}
    for run in runs:
        if run.kind == "build" and (run.model, run.recipe, run.target) not in measured:
            latest[_group(run)] = run
            counts[_group(run)] = counts.get(_group(run), 0) + 1
    out: dict[str, list[Row]] = {}
    for group, run in latest.items():
        out.setdefault(run.model or "?", []).append(
            Row(run, counts[group], builds.get(run.bundle_sha256) if run.kind != "build" else run,
                verdicts.get(run.uid)))
    for model_rows in out.values():
        model_rows.sort(key=lambda r: tuple(str(v or "") for v in (r.latest.recipe, r.latest.target,
                                                                  r.latest.device, r.source)))
    return dict(sorted(out.items()))
