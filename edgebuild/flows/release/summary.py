"""What a person reads about a release: report.html (the cells, their gates and profiles) and
CHANGELOG.md against the previous release (sizes, metrics, ratios, accepted regressions)."""

from __future__ import annotations

import html
from pathlib import Path

from ... import report
from ...history import utc
from ...project import Project
from ...report import Settings
from .. import history as results_history
from .compare import ratios

REPORT, CHANGELOG = "report.html", "CHANGELOG.md"


def _metric_text(metrics: dict) -> str:
    keep = ("accuracy", "cosine_to_fp32", "max_abs_diff_vs_onnxruntime", "transfer_bytes", "params", "macs")
    return ", ".join(f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}"
                     for k in keep if k in metrics)


def _profile_text(cell: dict) -> str:
    out = []
    for p in cell["profiles"]:
        new, got = p["bundles"]["new"], ratios(p)
        text = f"{p['device']}{' (emulated)' if p['emulated'] else ''}: p50 {new['latency_ms']['p50']:.3f} ms"
        if got["latency"] is not None:
            text += f", {got['latency']:.3f}x previous"
        out.append(text)
    return "; ".join(out) or "not profiled"


def write_report(project: Project, folder: Path, manifest: dict, old: dict | None) -> None:
    """The results report (the history's page) over this release's bundles and the previous release's,
    headed by the release's own table: cells, metrics, side-by-side profiles and gates."""
    shas = {c["bundle_sha256"] for c in manifest["cells"]} | {c["bundle_sha256"] for c in (old or {}).get("cells", [])}
    with results_history.open_history(project, say=lambda s: None) as store:
        where = store.where
        runs = [r for r in store.runs() if r.bundle_sha256 in shas]
    page = report.render(runs, Settings(), where, utc()[:19] + "Z", f", release {manifest['version']}")
    head = page.index("<body>") + len("<body>")
    (folder / REPORT).write_text(page[:head] + _release_section(manifest) + page[head:], encoding="utf-8")


def _release_section(manifest: dict) -> str:
    esc = html.escape
    rows = []
    for c in manifest["cells"]:
        failed = [g for g in c["gates"] if not g["passed"]]
        gate = "no previous bundle" if not c["gates"] else ("REGRESSION (allowed)" if failed else "pass")
        rows.append("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in (
            c["model"], c["recipe"], c["target"], _metric_text(c["metrics"]), _profile_text(c), gate)) + "</tr>")
    skipped = "".join(f"<li>{esc(t)}: {esc(r)}</li>" for t, r in manifest["profiles_skipped"].items())
    allowed = "".join(f"<li>{esc(a['cell'])}: {esc(a['reason'])}</li>" for a in manifest["allowed"])
    return (f"<section class=\"release\"><h1>Release {esc(manifest['version'])}</h1>"
            f"<p>Plan {esc(manifest['plan']['name'])}, commit {esc(manifest['source']['project']['commit'])}, "
            f"created {esc(manifest['created'])}. Gates: {esc(manifest['gates'])}. Emulated devices time an "
            f"emulator, not hardware.</p><table><tr><th>model</th><th>recipe</th><th>target</th><th>metrics</th>"
            f"<th>profiles (side by side with the previous release)</th><th>gates</th></tr>{''.join(rows)}</table>"
            f"<h2>Targets released without profiles</h2><ul>{skipped or '<li>none</li>'}</ul>"
            f"<h2>Accepted regressions</h2><ul>{allowed or '<li>none</li>'}</ul></section>")


def write_changelog(folder: Path, manifest: dict, old: dict | None) -> None:
    lines = [f"# {manifest['version']}", ""]
    if old is None:
        lines += ["First release: nothing to compare with.", ""]
        lines += [f"- added {c['key']}" for c in manifest["cells"]]
        (folder / CHANGELOG).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    lines += [f"Changes since {old['version']}.", ""]
    before = {c["key"]: c for c in old["cells"]}
    now_keys = {c["key"] for c in manifest["cells"]}
    lines += [f"- removed {k}" for k in sorted(set(before) - now_keys)]
    lines += ["", "| cell | transfer bytes | metrics | latency (new/previous, same device) |", "|---|---|---|---|"]
    for c in manifest["cells"]:
        prior = before.get(c["key"])
        if not prior:
            lines.append(f"| {c['key']} | added: {c['metrics'].get('transfer_bytes')} | {_metric_text(c['metrics'])} | - |")
            continue
        a, b = prior["metrics"]["transfer_bytes"], c["metrics"]["transfer_bytes"]
        changed = [f"{k} {prior['metrics'][k]:.4g} -> {v:.4g}" for k, v in c["metrics"].items()
                   if k in ("accuracy", "cosine_to_fp32") and k in prior["metrics"] and v != prior["metrics"][k]]
        lines.append(f"| {c['key']} | {a} -> {b} ({b / a:.3f}x) | {', '.join(changed) or 'unchanged'} | "
                     f"{_profile_text(c)} |")
    if manifest["allowed"]:
        lines += ["", "Accepted regressions:", ""]
        lines += [f"- {a['cell']}: {a['reason']}" for a in manifest["allowed"]]
    (folder / CHANGELOG).write_text("\n".join(lines) + "\n", encoding="utf-8")
