"""Profile results: one JSON object per run (DESIGN.md contract), stored under results/.

results/DEVICE/TIME--MODEL--RECIPE--SHA12.json holds each result as raw JSON; the flows also record it in
the results history (edgebuild/history), which reports read. Emulated results say so (`"emulated": true`).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..project import Project


def results_dir(project: Project) -> Path:
    return project.root / "results"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def store(project: Project, result: dict) -> Path:
    folder = results_dir(project) / result["device"]
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result["time"].replace(":", "").replace("-", "")
    path = folder / f"{stamp}--{result['model']}--{result['recipe']}--{result['bundle_sha256'][:12]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def summary(result: dict) -> str:
    lat = result.get("latency_ms") or {}
    kind = "EMULATED (not hardware timings)" if result.get("emulated") else "hardware"
    state = "ok" if result.get("ok") else f"FAILED: {result.get('error')}"
    head = f"{result['device']}: {result['model']} x {result['recipe']} x {result['target']} [{kind}] {state}"
    if not result.get("ok"):
        return head + "\n  no figures: a failed run is not timed"
    valid = {True: "valid", None: "validity unknown", False: "NOT VALID"}[result.get("valid")]
    reasons = list(result.get("invalid_reasons") or [])
    clocks = result.get("clocks") or {}
    if clocks.get("state") == "unknown":
        reasons.append(f"clocks: unknown ({clocks.get('reason')})")
    reasons += [f"{k} omitted: {v}" for k, v in (lat.get("omitted") or {}).items()]
    figures = "  ".join(f"{k} {lat[k]:.3f} ms" for k in ("p50", "p90", "p99", "mean") if k in lat)
    lines = [head, f"  {figures}  runs {lat.get('runs')}  load {result.get('load_ms') or 0:.1f} ms  "
                   f"peak RSS {(result.get('peak_rss_bytes') or 0) / 2**20:.1f} MiB  "
                   f"model {(result.get('model_rss_bytes') or 0) / 2**20:.1f} MiB  "
                   f"parity {result.get('parity_max_abs_diff')}"]
    base = result.get("baseline")
    if base:
        other = base.get("latency_ms") or {}
        mark = " (emulated: ratios of emulation, not of hardware)" if result.get("emulated") else ""
        memory = base.get("memory_ratio")
        lines.append(f"  onnxruntime {base.get('version')}: p50 {other.get('p50', float('nan')):.3f} ms  "
                     f"model {(base.get('model_rss_bytes') or 0) / 2**20:.1f} MiB; "
                     f"tvm / onnxruntime p50 ratio {base.get('ratio') or float('nan'):.2f}, model memory ratio "
                     f"{memory or float('nan'):.2f}{mark}")
    lines.append(f"  {valid}" + "".join(f"\n  - {r}" for r in reasons))
    return "\n".join(lines)
