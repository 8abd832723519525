"""The report's recipe-search sections: per study, its Pareto front as a table and a plot, from the
history's `search` rows (trials on the search split, chosen points re-measured on held-out data).

A trial is drawn on the plot whatever its budget; the front (ringed, and the table) holds only points
within the budget, minimal on the study's objective(s), as the search itself chose them.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from ..history import Run
from . import pareto, svg

COLUMNS = ("trial", "steps", "metric (search split)", "latency x none", "latency ms", "transfer bytes",
           "model.so bytes", "held-out metric (none)", "held-out latency x", "better by the margin")


def _f(value, fmt: str = "{:g}") -> str:
    return "–" if value is None else fmt.format(value)


def _steps(steps: list[dict]) -> str:
    if not steps:
        return "none"
    return "; ".join(s["technique"] + "".join(f" {k}={v}" for k, v in s.items() if k != "technique") for s in steps)


def studies(runs: list[Run]) -> dict[str, list[Run]]:
    """study name -> its search rows, in time order."""
    out: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.kind == "search":
            out[run.data.get("study", "?")].append(run)
    return dict(sorted(out.items()))


def section(study: str, rows: list[Run]) -> str:
    trials = {r.data["trial"]: r.data for r in rows if r.data.get("split") == "search"}  # a re-run trial: its latest
    held = {r.data["trial"]: r.data for r in rows if r.data.get("split") == "holdout"}
    latest = rows[-1].data
    objective = latest.get("objective") or ("latency" if latest.get("latency_ratio") is not None else "size")
    keys = pareto.SEARCH_KEYS[objective]
    usable = [t for t in trials.values() if all(t.get(k) is not None for k in keys)]
    front = pareto.minimal([t for t in usable if (t.get("constraint") or 0) <= 0], keys)
    emulated = any(r.emulated for r in rows)
    where = latest.get("device") or latest.get("target")
    head = (f"search {study}: {latest.get('model')} on {where}{' — EMULATED' if emulated else ''}; objective "
            f"{objective}, {latest.get('metric_name')} budget {_f(latest.get('budget'))}; {len(trials)} trials "
            f"from {rows[0].time[:16]}Z to {rows[-1].time[:16]}Z (UTC)")
    return (f'<section class="search" data-study="{escape(study)}"><h3>{escape(head)}</h3>'
            f"{_table(front, held)}<div class=\"figures\">{''.join(_plots(study, usable, front, keys, emulated))}"
            f"</div></section>")


def _table(front: list[dict], held: dict[int, dict]) -> str:
    body = []
    for t in front:
        h = held.get(t["trial"], {})
        cells = [str(t["trial"]), _steps(t.get("steps", [])), _f(t.get("metric")), _f(t.get("latency_ratio")),
                 _f(t.get("latency_ms"), "{:.4f}"), _f(t.get("transfer_bytes"), "{:,}"), _f(t.get("so_bytes"), "{:,}"),
                 f"{_f(h.get('metric'))} ({_f(h.get('reference_metric'))})" if h else "–",
                 _f(h.get("latency_ratio")), ("yes" if h.get("better") else "no") if h else "–"]
        body.append(f'<tr data-trial="{t["trial"]}">' + "".join(
            f'<td data-col="{escape(c)}"{" class=text" if c == "steps" else ""}>{escape(v)}</td>'
            for c, v in zip(COLUMNS, cells)) + "</tr>")
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    rows = "".join(body) or f'<tr><td colspan="{len(COLUMNS)}" class=text>no trial within the budget</td></tr>'
    return f'<table class="search-front"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _plots(study: str, trials: list[dict], front: list[dict], keys: tuple[str, ...], emulated: bool) -> list[str]:
    if not trials:
        return []
    ringed = {t["trial"] for t in front}
    labels = {"latency_ratio": "latency / uncompressed build", "transfer_bytes": "transfer bytes"}
    pairs = [(keys[0], "metric")] + ([(keys[0], keys[1])] if len(keys) > 1 else [])
    note = "EMULATED timings, not hardware. " if emulated else ""
    out = []
    for x, y in pairs:
        points = [svg.Point(t[x], t[y], f"#{t['trial']}", {"trial": t["trial"], "front": str(t["trial"] in ringed).lower()})
                  for t in trials]
        ylabel = trials[0].get("metric_name", "metric") if y == "metric" else labels[y]
        chart = svg.scatter(points, [p for p in points if p.attrs["trial"] in ringed], f"{study}: {ylabel} vs {labels[x]}",
                            labels[x], ylabel, {"data-plot": "search-front", "data-study": study,
                                                "data-axis": "emulated" if emulated else "hardware"},
                            log_x=x == "transfer_bytes")
        out.append(f'<figure>{chart}<figcaption>{escape(note)}Every trial (search split); the front ringed: '
                   f"within the budget and not beaten on {', '.join(keys)}.</figcaption></figure>")
    return out
