"""Regression gates: each new bundle against the previous release's bundle of the same cell.

Metrics and size come from the two manifests; latency and memory from the side-by-side jobs
(both bundles in one process on one device: ratio of medians). A cell past a threshold refuses
the release unless `--allow=MODEL:RECIPE:TARGET:REASON` accepts it; the reason is recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .compare import ratios
from .plan import Thresholds

# metric in the manifest -> (threshold field, higher is better)
QUALITY = {"accuracy": "max_accuracy_drop", "cosine_to_fp32": "max_cosine_drop"}


@dataclass(frozen=True)
class Check:
    cell: str
    check: str  # accuracy drop, size ratio, latency ratio @device, ...
    previous: float | None
    new: float | None
    value: float | None
    limit: float
    passed: bool

    def to_json(self) -> dict:
        return asdict(self)


def evaluate(cell: str, new: dict, previous: dict, comparisons: list[dict], limits: Thresholds) -> list[Check]:
    checks = []
    for metric, field in QUALITY.items():
        a, b = previous["metrics"].get(metric), new["metrics"].get(metric)
        if a is not None and b is not None:
            drop = a - b
            checks.append(Check(cell, f"{metric} drop", a, b, drop, getattr(limits, field), drop <= getattr(limits, field)))
    a, b = previous["metrics"]["transfer_bytes"], new["metrics"]["transfer_bytes"]
    checks.append(Check(cell, "size ratio (transfer bytes)", a, b, b / a, limits.max_size_ratio, b / a <= limits.max_size_ratio))
    for result in comparisons:
        got, pair = ratios(result), result["bundles"]
        where = f"@{result['device']}" + (" (emulated)" if result["emulated"] else "")
        checks.append(Check(cell, f"latency ratio of medians {where}", pair["previous"]["latency_ms"]["p50"],
                            pair["new"]["latency_ms"]["p50"], got["latency"], limits.max_latency_ratio,
                            got["latency"] <= limits.max_latency_ratio))
        if got["memory"] is not None:
            checks.append(Check(cell, f"memory ratio {where}", pair["previous"]["memory_bytes"],
                                pair["new"]["memory_bytes"], got["memory"], limits.max_memory_ratio,
                                got["memory"] <= limits.max_memory_ratio))
    return checks


def parity_failures(cell: str, comparisons: list[dict]) -> list[str]:
    return [f"{cell} @{r['device']}: " + (b.get("parity_error") or f"parity {b['parity_max_abs_diff']:.3g} exceeds "
                                                                    f"{b['parity_tolerance']:.3g}")
            for r in comparisons for name, b in r["bundles"].items() if name == "new" and not b["ok"]]


def table(checks: list[Check]) -> str:
    rows = [("cell", "check", "previous", "new", "value", "limit", "")]
    for c in checks:
        rows.append((c.cell, c.check, _num(c.previous), _num(c.new), _num(c.value), _num(c.limit),
                     "ok" if c.passed else "REGRESSION"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
