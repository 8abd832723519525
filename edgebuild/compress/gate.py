"""The recipe's gate, applied to the compiled graph's metric, and the per-step table as text."""

from __future__ import annotations

import math
from typing import Any

from ..errors import GateFailed

DEFAULT_MIN_COSINE = 0.99  # when a recipe bounds accuracy but the model only reports agreement


def check(recipe, baseline: float | None, name: str | None, value: float | None, table: list[dict[str, Any]]) -> None:
    """Each gate key bounds the metric it names; a recipe may carry both, for classifiers and embedders."""
    gate = recipe.gate
    if gate is None:
        return
    failures = []
    if value is not None and not math.isfinite(value):
        raise GateFailed(f"recipe {recipe.name!r}: the compiled graph's {name} is {value}, not a finite number (its "
                         "outputs hold NaN or inf); no bundle was written\n" + format_table(table))
    if name == "accuracy":
        if gate.max_accuracy_drop is None:
            raise GateFailed(f"recipe {recipe.name!r}: its gate has no max-accuracy-drop, and this model reports "
                             "accuracy; add max-accuracy-drop to the recipe's [gate]")
        drop = round(baseline - value, 4)
        if drop > gate.max_accuracy_drop:
            failures.append(f"accuracy dropped {drop:.2f} pt ({baseline} -> {value}), over max-accuracy-drop "
                            f"{gate.max_accuracy_drop}")
    elif name == "cosine_to_fp32":
        # Without its own bound, agreement with fp32 gets a default (ONNX files, embedders).
        bound = gate.min_cosine_to_fp32 if gate.min_cosine_to_fp32 is not None else DEFAULT_MIN_COSINE
        if value < bound:
            failures.append(f"cosine_to_fp32 {value} is below min-cosine-to-fp32 {bound}")
    if failures:
        raise GateFailed(f"recipe {recipe.name!r} exceeds its gate on the compiled graph: {'; '.join(failures)}. "
                         "No bundle was written. Relax the gate in the recipe, or use a gentler recipe.\n"
                         + format_table(table))


def format_table(table: list[dict[str, Any]]) -> str:
    """The per-step compression table `invoke build` prints."""
    if not table:
        return ""
    head = ("#", "step", "params", "nonzero", "MACs", "weight bytes", "metric", "before", "after", "source", "time s")
    rows = [head]
    for r in table:
        rows.append((str(r["step"]), r["technique"], f"{r.get('params', 0):,}", f"{r.get('nonzero_params', 0):,}",
                     f"{r.get('macs', 0):,}", f"{r.get('weight_bytes', 0):,}", str(r.get("metric") or "-"),
                     _num(r.get("before")), _num(r.get("after")), r.get("metric_source", ""),
                     _num(r.get("time_s"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i in (2, 3, 4, 5, 7, 8, 10) else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows)


def _num(v) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
