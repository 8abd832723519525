"""`invoke search --against-shipped`: the search's best point against every recipe of recipes/ for the
same model and target, within the same budget, timed side by side (in `rounds` runs of fresh processes).

A shipped recipe is scored on all of the metric's data, as the reference is: no one selected it, so
unlike the search's own points it needs no held-out half (a 20-minute digits-cnn search counted the
shipped distill-half within a 1-point budget by its 98.4 on held-out data; on the search half it scored
97.2, 1.6 points below the reference overall). A recipe that fails to build (its own gate, a technique
the model lacks) or misses the budget is listed with the reason and not timed. The best point "beats" a
recipe only by the search's margin (search_result.MARGIN) on every objective searched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import compress
from ..errors import EdgebuildError
from . import search_measure
from .build import build

RUNS = 100


def against_shipped(project, request, measure, budget, best: dict[str, Any], margin: float, rounds: int,
                    say) -> dict[str, Any]:
    ref_value = measure.reference_metric[1]  # the search's budget baseline (search_measure.REFERENCE_SPLIT)
    rows, timed = [], []
    for name in compress.folder(project).names():
        if name == "none":
            continue
        try:
            result = build(project, request.build_request(name), say=lambda s: None)
        except EdgebuildError as exc:
            rows.append({"recipe": name, "error": str(exc).splitlines()[0]})
            continue
        value = measure.metric(result, search_measure.REFERENCE_SPLIT)[1]
        row = {"recipe": name, "metric": value, "within_budget": budget.violation(ref_value, value) <= 0,
               "transfer_bytes": result.manifest["metrics"]["transfer_bytes"]}
        rows.append(row)
        if row["within_budget"]:
            timed.append((row, result.bundle))
    say(f"timing the best point beside {len(timed)} shipped recipes within the budget")
    folders = [Path(best["bundle"]), *(folder for _, folder in timed)]
    best_ms = None
    if request.objective != "size":
        (best_ms, *medians), (_, *ratios) = measure.latency(folders, RUNS, rounds)
        for (row, _), ms, ratio in zip(timed, medians, ratios):  # ratio: the recipe's time over the best point's
            row.update(latency_ms=round(ms, 5), best_over_recipe=round(1 / ratio, 4))
    for row, _ in timed:
        row["best_transfer_over_recipe"] = round(best["transfer_bytes"] / row["transfer_bytes"], 4)
        wins = []
        if request.objective != "size":
            wins.append(row["best_over_recipe"] <= 1 - margin)
        if request.objective != "latency":
            wins.append(row["best_transfer_over_recipe"] <= 1 - margin)
        row["beaten"] = all(wins)
    judged = [row for row, _ in timed]
    # a best point that misses the budget on held-out data (no point held there) beats nothing
    within = best["holdout"]["within_budget"]
    return {"reference_metric": ref_value, "best_latency_ms": best_ms and round(best_ms, 5), "recipes": rows,
            "best_within_budget": within, "beats_all": within and bool(judged) and all(r["beaten"] for r in judged)}


def format_comparison(comparison: dict[str, Any]) -> list[str]:
    ref = comparison["reference_metric"]
    lines = [f"against the shipped recipes (their metric and the reference's {ref} on all the data; the best "
             "point's on held-out data):"]
    for r in comparison["recipes"]:
        if "error" in r:
            lines.append(f"  {r['recipe']}: not built ({r['error']})")
        elif not r["within_budget"]:
            lines.append(f"  {r['recipe']}: {r['metric']}, outside the budget")
        else:
            lat = f"best/recipe latency {r['best_over_recipe']}x, " if "best_over_recipe" in r else ""
            lines.append(f"  {r['recipe']}: {r['metric']}, {lat}transfer {r['best_transfer_over_recipe']}x"
                         f"{'' if r['beaten'] else ' — NOT beaten by the margin'}")
    if not comparison["best_within_budget"]:
        lines.append("the best point misses the budget on held-out data: it beats no shipped recipe")
    else:
        lines.append("the best point beats every shipped recipe within the budget" if comparison["beats_all"]
                     else "the best point does not beat every shipped recipe within the budget")
    return lines
