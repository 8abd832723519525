"""What a person reads about a release: report.html (the cells, their gates and profiles) and
CHANGELOG.md against the previous release (sizes, metrics, ratios, accepted regressions)."""

from __future__ import annotations

import html
from pathlib import Path

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


def write_report(folder: Path, manifest: dict) -> None:
    esc = html.escape
    rows = []
    for c in manifest["cells"]:
        failed = [g for g in c["gates"] if not g["passed"]]
        gate = "no previous bundle" if not c["gates"] else ("REGRESSION (allowed)" if failed else "pass")
        rows.append("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in (
            c["model"], c["recipe"], c["target"], _metric_text(c["metrics"]), _profile_text(c), gate)) + "</tr>")
    skipped = "".join(f"<li>{esc(t)}: {esc(r)}</li>" for t, r in manifest["profiles_skipped"].items())
    allowed = "".join(f"<li>{esc(a['cell'])}: {esc(a['reason'])}</li>" for a in manifest["allowed"])
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>edgebuild release {esc(manifest['version'])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}</style>
</head><body>
<h1>Release {esc(manifest['version'])}</h1>
<p>Plan {esc(manifest['plan']['name'])}, commit {esc(manifest['source']['project']['commit'])}, created {esc(manifest['created'])}.
Gates: {esc(manifest['gates'])}. Emulated devices time an emulator, not hardware.</p>
<table><tr><th>model</th><th>recipe</th><th>target</th><th>metrics</th><th>profiles</th><th>gates</th></tr>
{''.join(rows)}
</table>
<h2>Targets released without profiles</h2><ul>{skipped or '<li>none</li>'}</ul>
<h2>Accepted regressions</h2><ul>{allowed or '<li>none</li>'}</ul>
</body></html>
"""
    (folder / REPORT).write_text(page, encoding="utf-8")


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
