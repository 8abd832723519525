"""The compression benchmark: every recipe on one model, built for this machine, side by side.

Per recipe: the metric, model.so bytes, weight bytes, transfer bytes, MACs, and host latency, each
as a ratio to the uncompressed (`none`) build. Latencies are measured round-robin in one process so
machine noise (other builds on a shared host) hits every artifact alike.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from .. import bundle
from ..compile.runner import HostModel
from ..errors import EdgebuildError
from ..progress import SILENT, Progress
from . import history as results_history
from .build import BuildRequest, build
from ..history import from_bench_compress, here, utc

WARMUP = 2


def run(project, model: str, recipes: list[str], runs: int, say=print, calibration: str | None = None,
        progress: Progress = SILENT) -> dict:
    rows, loaded = [], []
    for name in ["none", *[r for r in recipes if r != "none"]]:
        try:
            result = build(project, BuildRequest(model=model, recipe=name, target="host", calibration=calibration),
                           say=lambda s: None, progress=progress)  # its stages show as progress, not as lines
        except EdgebuildError as exc:
            rows.append({"recipe": name, "error": str(exc).splitlines()[0]})
            say(f"{name}: failed: {str(exc).splitlines()[0]}")
            continue
        m = result.manifest
        inputs, _ = bundle.read_reference(result.bundle / bundle.REFERENCE)
        names = [i["name"] for i in m["inputs"]]
        loaded.append((len(rows), HostModel(result.bundle / bundle.SO, names), inputs))
        metric = next((k for k in ("accuracy", "cosine_to_fp32") if k in m["metrics"]), None)
        rows.append({"recipe": name, "metric": metric, "value": m["metrics"].get(metric),
                     "so_bytes": m["files"]["model.so"]["bytes"], "weight_bytes": m["metrics"]["weight_bytes"],
                     "transfer_bytes": m["metrics"]["transfer_bytes"], "macs": m["metrics"]["macs"], "times": []})
        say(f"{name}: built")
    for _ in range(WARMUP):
        for _, runner, inputs in loaded:
            runner(inputs)
    with progress.task(f"bench-compress {model}: timing", total=runs * len(loaded), unit="runs") as shown:
        for _ in range(runs):
            for i, runner, inputs in loaded:
                start = time.perf_counter()
                runner(inputs)
                rows[i]["times"].append((time.perf_counter() - start) * 1000)
            shown.advance(len(loaded))
    base = rows[0] if "error" not in rows[0] else None
    for row in rows:
        if "times" in row:
            row["latency_ms"] = round(statistics.median(row.pop("times")), 3)
        if base and "error" not in row:
            for key in ("so_bytes", "weight_bytes", "transfer_bytes", "macs", "latency_ms"):
                row[f"{key}_ratio"] = round(base[key] / row[key], 2) if row[key] else None
    report = {"model": model, "runs": runs, "rows": rows, "time": utc()}
    out = project.root / "results" / "bench" / f"compress-{model.replace('/', '_')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    results_history.record(project, from_bench_compress(report, here()), say)
    report["file"] = str(out)
    return report


def format_report(report: dict) -> str:
    head = ("recipe", "metric", "model.so", "x", "weights", "x", "transfer", "x", "MACs x", "latency ms", "speedup")
    lines = [head]
    for r in report["rows"]:
        if "error" in r:
            lines.append((r["recipe"], "FAILED: " + r["error"][:80], *[""] * 9))
            continue
        lines.append((r["recipe"], f"{r['metric']}={r['value']}", f"{r['so_bytes']:,}", _x(r.get("so_bytes_ratio")),
                      f"{r['weight_bytes']:,}", _x(r.get("weight_bytes_ratio")), f"{r['transfer_bytes']:,}",
                      _x(r.get("transfer_bytes_ratio")), _x(r.get("macs_ratio")), f"{r['latency_ms']:.2f}",
                      _x(r.get("latency_ms_ratio"))))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    text = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines)
    return f"{report['model']} on this host, ratios vs none (higher = smaller/faster), {report['runs']} runs\n{text}"


def _x(v) -> str:
    return "-" if v is None else f"{v:g}x"
