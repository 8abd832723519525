"""The report page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched).

Per model: the table of latest results, accuracy vs latency and vs size per target (Pareto front
ringed), latency over time per device, bench ratios, and the runs flagged as regressions; then each
recipe search's front (report/search.py). Emulated
figures are labelled and get their own axes; every figure's caption names its origin.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from ..history import Run
from . import pareto, search, svg
from .regress import Settings, Verdict, verdicts
from .tables import Row, rows as table_rows

STYLE = """
body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:12px;margin:.5em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}td.text{text-align:left}
tr.emulated td{background:#fff6e0}tr.flagged td{background:#fde0e0}.figures{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #ddd;padding:4px}figcaption{font-size:11px;color:#555;max-width:560px}
.chart .plot{fill:#fafafa;stroke:#999}.chart .grid{stroke:#e4e4e4}
.chart .tick,.chart .label,.chart .legend{font-size:10px}
.chart .title{font-size:12px;font-weight:bold}.chart .axis{font-size:11px}.chart .point{fill:#1f77b4}
.chart .pareto-marker{fill:none;stroke:#d62728;stroke-width:2}
.chart .front{fill:none;stroke:#d62728;stroke-dasharray:4 3}
.chart .series{fill:none;stroke-width:1.5}.chart .flagged{fill:#d62728}.chart .ref{stroke:#000}
.emu{color:#b36b00;font-weight:bold}.settings{font-size:13px}
"""
COLUMNS = ("recipe", "target", "device", "source", "measured on", "runs", "p50 ms", "p90 ms", "p99 ms",
           "peak model memory", "model.so bytes", "transfer bytes", "accuracy / cosine", "TVM / ORT", "validity",
           "baseline p50 (median ± MAD)", "change", "regression", "origin")
TEXT = {"recipe", "target", "device", "source", "validity", "origin"}  # left-aligned columns


def _f(value, fmt: str = "{:.3f}") -> str:
    return "–" if value is None else fmt.format(value)


def _where(run: Run) -> str:
    return "EMULATED" if run.emulated else ("hardware" if run.device else "–")


def _origin(runs: list[Run]) -> str:
    commits = sorted({r.git_commit or "unknown" for r in runs})
    hosts = sorted({r.host or "unknown" for r in runs})
    devices = sorted({f"{r.device} ({'EMULATED' if r.emulated else 'hardware'})" for r in runs if r.device})
    times = sorted(r.time for r in runs)
    span = f"{times[0][:16]}Z" + (f" to {times[-1][:16]}Z" if times[-1][:16] != times[0][:16] else "")
    return (f"origin: commit {', '.join(commits)}; host {', '.join(hosts)}; device {', '.join(devices) or 'none'}; "
            f"{len(runs)} runs, {span} (UTC)")


def _cells(row: Row) -> dict[str, str]:
    r, v = row.latest, row.verdict
    metric = row.figure("metric")
    memory = row.figure("peak_model_bytes")
    return {
        "recipe": r.recipe or "–", "target": r.target or "–", "device": r.device or "–",
        "source": r.kind + (f" ({r.engine})" if r.kind == "bench" else ""), "measured on": _where(r),
        "runs": str(row.runs), "p50 ms": _f(r.p50_ms), "p90 ms": _f(r.p90_ms), "p99 ms": _f(r.p99_ms),
        "peak model memory": _f(memory and memory / 2**20, "{:.1f} MiB"),
        "model.so bytes": _f(row.figure("so_bytes"), "{:,}"),
        "transfer bytes": _f(row.figure("transfer_bytes"), "{:,}"),
        "accuracy / cosine": f"{metric} {row.figure('metric_value'):g}" if metric else "–",
        "TVM / ORT": _f(r.ratio_ort, "{:.2f}x"), "validity": row.validity,
        "baseline p50 (median ± MAD)": (f"{v.median:.3f} ± {v.mad:.3f} ({v.baseline_runs} runs)" if v and v.median
                                        is not None else (f"too few: {v.baseline_runs} runs" if v else "–")),
        "change": _f(v and v.change, "{:+.1%}"), "regression": "REGRESSION" if v and v.flagged else "–",
        "origin": f"{r.git_commit or 'commit unknown'} @ {r.host or 'host unknown'}, {r.time[:19]}Z",
    }


def _table(model: str, model_rows: list[Row]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in model_rows:
        cells = _cells(row)
        cls = " ".join(c for c, on in (("emulated", row.latest.emulated),
                                        ("flagged", bool(row.verdict and row.verdict.flagged))) if on)
        tds = "".join(f'<td data-col="{escape(c)}"{" class=text" if c in TEXT else ""}>{escape(cells[c])}</td>'
                      for c in COLUMNS)
        body.append(f'<tr data-row="{escape(row.key)}" class="{cls}">{tds}</tr>')
    return (f'<table class="runs" data-model="{escape(model)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _figure(chart: str, runs: list[Run], note: str = "") -> str:
    return f'<figure>{chart}<figcaption class="origin">{escape(note + _origin(runs))}</figcaption></figure>'


def _quality_plots(model: str, model_rows: list[Row], runs: list[Run]) -> list[str]:
    out = []
    timed = defaultdict(list)
    for row in model_rows:
        if row.latest.p50_ms is not None and row.figure("metric_value") is not None and row.latest.valid is not False:
            timed[(row.latest.target, row.latest.emulated)].append(row)
    for (target, emulated), group in sorted(timed.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        points = [svg.Point(r.latest.p50_ms, r.figure("metric_value"), f"{r.latest.recipe}@{r.latest.device}",
                            {"recipe": r.latest.recipe, "device": r.latest.device, "emulated": str(emulated).lower()})
                  for r in group]
        axis = "emulated" if emulated else "hardware"
        title = f"{model} on {target}: {group[0].figure('metric')} vs p50 latency" + (" — EMULATED" if emulated else "")
        chart = svg.scatter(points, pareto.front(points, lambda p: p.x, lambda p: p.y), title, "p50 latency (ms)",
                            group[0].figure("metric"), {"data-plot": "accuracy-latency", "data-target": target,
                                                        "data-axis": axis, "data-model": model})
        out.append(_figure(chart, [r.latest for r in group], "EMULATED timings, not hardware. " if emulated else ""))
    latest_builds = {}
    for run in runs:
        if run.kind == "build" and run.so_bytes and run.metric_value is not None:
            latest_builds[(run.target, run.recipe)] = run
    by_target = defaultdict(list)
    for (target, _), run in sorted(latest_builds.items(), key=lambda kv: str(kv[0])):
        by_target[target].append(run)
    for target, builds in by_target.items():
        points = [svg.Point(b.so_bytes, b.metric_value, b.recipe, {"recipe": b.recipe}) for b in builds]
        chart = svg.scatter(points, pareto.front(points, lambda p: p.x, lambda p: p.y),
                            f"{model} on {target}: {builds[0].metric} vs model.so size", "model.so bytes",
                            builds[0].metric, {"data-plot": "accuracy-size", "data-target": target, "data-axis": "build",
                                               "data-model": model}, log_x=True)
        out.append(_figure(chart, builds))
    return out


def _time_plots(model: str, runs: list[Run], judged: dict[str, Verdict]) -> list[str]:
    by_device = defaultdict(list)
    for run in runs:
        if run.p50_ms is not None and run.device:
            by_device[(run.device, run.emulated)].append(run)
    out = []
    for (device, emulated), group in sorted(by_device.items()):
        series = defaultdict(list)
        for run in group:
            name = f"{run.kind} {run.recipe}/{run.target} {run.engine or ''} bundle {(run.bundle_sha256 or '?')[:8]}"
            verdict = judged.get(run.uid)
            series[name].append(svg.Point(svg.epoch(run.time), run.p50_ms, f"{run.time[:19]}Z {run.p50_ms:.3f} ms",
                                          {"emulated": str(emulated).lower(), "uid": run.uid[:12]},
                                          flagged=bool(verdict and verdict.flagged)))
        title = f"{model}: p50 latency over time on {device}" + (" — EMULATED" if emulated else "")
        chart = svg.lines(dict(series), title, "p50 latency (ms)", {"data-plot": "latency-time", "data-device": device,
                                                                    "data-axis": "emulated" if emulated else "hardware",
                                                                    "data-model": model})
        out.append(_figure(chart, group, "EMULATED timings, not hardware. " if emulated else ""))
    return out


def _bench_plot(model: str, runs: list[Run]) -> list[str]:
    bench = [r for r in runs if r.kind == "bench" and r.ratio_ort is not None]
    if not bench:
        return []
    last = [r for r in bench if r.time == bench[-1].time and r.engine != "onnxruntime"]
    if not last:
        return []
    items = [(r.engine or "?", r.ratio_ort, {"engine": r.engine or "?"}) for r in last]
    chart = svg.bars(items, f"{model}: latency / ONNX Runtime (latest bench, median)",
                     {"data-plot": "bench-ratios", "data-axis": "hardware", "data-model": model})
    return [_figure(chart, last)]


def _regressions(runs: list[Run], judged: dict[str, Verdict]) -> str:
    items = []
    for run in runs:
        v = judged.get(run.uid)
        if v and v.flagged:
            what = (f"{run.time[:19]}Z {run.kind} {run.recipe} x {run.target} on {run.device}"
                    f"{' (EMULATED)' if run.emulated else ''}: p50 {run.p50_ms:.3f} ms vs baseline "
                    f"{v.median:.3f} ± {v.mad:.3f} ms ({v.change:+.1%})")
            items.append(f'<li data-uid="{run.uid[:12]}">{escape(what)}</li>')
    return f'<ul class="regressions">{"".join(items)}</ul>' if items else "<p>No regressions flagged.</p>"


def render(runs: list[Run], settings: Settings, source: str, generated: str, scope: str) -> str:
    """The page for `runs` (time order). `source` names the history, `scope` the filters applied."""
    searches = search.studies(runs)
    runs = [r for r in runs if r.kind != "search"]  # trials are one-off bundles: only their own sections show them
    judged = verdicts(runs, settings)
    sections = []
    for model, model_rows in table_rows(runs, judged).items():
        mine = [r for r in runs if r.model == model]
        figures = _quality_plots(model, model_rows, mine) + _time_plots(model, mine, judged) + _bench_plot(model, mine)
        sections.append(f'<section class="model" data-model="{escape(model)}"><h2>{escape(model)}</h2>'
                        f'{_table(model, model_rows)}<div class="figures">{"".join(figures)}</div>'
                        f"<h3>Regressions</h3>{_regressions(mine, judged)}</section>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>edgebuild results</title>'
            f"<style>{STYLE}</style></head><body><h1>edgebuild results</h1>"
            f"<p>Generated {escape(generated)} (UTC) from {escape(source)}: {len(runs)} runs{escape(scope)}. "
            f'Tables show the latest run of each recipe x target x device; rows on <span class="emu">EMULATED</span> '
            f"devices are emulation timings and are plotted on their own axes, never beside hardware.</p>"
            f'<p class="settings" id="regression-settings" data-runs="{settings.runs}" data-mads="{settings.mads:g}" '
            f'data-floor="{settings.floor:g}">Regressions: {escape(settings.describe())}.</p>'
            f"{''.join(sections) or '<p>The history holds no runs yet.</p>'}"
            f"{_searches(searches)}</body></html>\n")


def _searches(studies: dict[str, list[Run]]) -> str:
    if not studies:
        return ""
    return "<h2>Recipe searches</h2>" + "".join(search.section(name, rows) for name, rows in studies.items())
