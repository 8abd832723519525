"""History rows: one Run per build, bench engine, bench-compress recipe, profile or tune.

Each Run keeps its source record whole in `data` and lifts the figures a report queries into columns.
Its `uid` hashes the kind and the source record, so the same result stored twice (a retried write, a
re-import of the raw JSON a run also wrote) is one row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# Quality metrics where higher is better, in the order a report prefers them.
QUALITY_METRICS = ("accuracy", "cosine_to_fp32")
KINDS = ("build", "bench", "bench-compress", "profile", "tune", "search")


def utc(text: str | None = None) -> str:
    """An ISO 8601 time (any offset; naive means UTC) as UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ'; now when None."""
    if text is None:
        moment = datetime.now(timezone.utc)
    else:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Origin:
    """Where a figure came from: the edgebuild commit and the host that ran the task."""

    commit: str | None
    host: str | None


@dataclass(frozen=True)
class Run:
    kind: str
    time: str
    data: dict[str, Any] = field(repr=False)
    model: str | None = None
    recipe: str | None = None
    target: str | None = None
    device: str | None = None
    engine: str | None = None
    emulated: bool = False
    bundle_sha256: str | None = None
    host: str | None = None
    git_commit: str | None = None
    toolchain: str | None = None
    valid: bool | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    peak_model_bytes: int | None = None
    so_bytes: int | None = None
    transfer_bytes: int | None = None
    metric: str | None = None
    metric_value: float | None = None
    ratio_ort: float | None = None

    @property
    def uid(self) -> str:
        source = json.dumps([self.kind, self.engine, self.data], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(source.encode()).hexdigest()

    def columns(self) -> dict[str, Any]:
        """Column name -> value as stored (booleans as 0/1, `data` as JSON)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["emulated"] = int(self.emulated)
        out["valid"] = None if self.valid is None else int(self.valid)
        out["data"] = json.dumps(self.data, sort_keys=True, default=str)
        return {"uid": self.uid, **out}

    def to_json(self) -> dict[str, Any]:
        fields = (f.name for f in dataclasses.fields(self) if f.name != "data")
        return {"uid": self.uid, **{name: getattr(self, name) for name in fields}}


COLUMNS = tuple(Run("", "", {}).columns())


def from_columns(row: dict[str, Any]) -> Run:
    values = {k: row[k] for k in COLUMNS if k != "uid"}
    values["data"] = json.loads(values["data"])
    values["emulated"] = bool(values["emulated"])
    values["valid"] = None if values["valid"] is None else bool(values["valid"])
    return Run(**values)


def quality(metrics: dict[str, Any]) -> tuple[str | None, float | None]:
    name = next((m for m in QUALITY_METRICS if metrics.get(m) is not None), None)
    return name, (float(metrics[name]) if name else None)


def _origin(origin: Origin | None) -> dict[str, Any]:
    return {"git_commit": origin.commit, "host": origin.host} if origin else {}


def from_build(manifest: dict[str, Any], manifest_sha256: str, time: str, origin: Origin | None = None) -> Run:
    """A build's row; `data` is its whole manifest plus when it was built."""
    metric, value = quality(manifest.get("metrics", {}))
    tools = manifest.get("toolchain", {})
    return Run(
        kind="build", time=utc(time), data={**manifest, "built": utc(time)}, model=manifest["model"]["name"],
        recipe=manifest["recipe"]["name"], target=manifest["target"]["name"], bundle_sha256=manifest_sha256,
        toolchain=f"apache-tvm {tools.get('apache-tvm')}" if tools.get("apache-tvm") else None,
        so_bytes=manifest.get("files", {}).get("model.so", {}).get("bytes"),
        transfer_bytes=manifest.get("metrics", {}).get("transfer_bytes"), metric=metric, metric_value=value,
        **_origin(origin))


def from_profile(result: dict[str, Any], origin: Origin | None = None) -> Run:
    """A profile result (DESIGN.md contract) as a row; a failed run is stored too, as not valid."""
    latency = result.get("latency_ms") or {}
    valid = result.get("valid")
    if not result.get("ok", True):
        valid = False
    baseline = result.get("baseline") or {}
    return Run(
        kind="profile", time=utc(result["time"]), data=result, model=result.get("model"), recipe=result.get("recipe"),
        target=result.get("target"), device=result.get("device"), engine="tvm",
        emulated=bool(result.get("emulated")), bundle_sha256=result.get("bundle_sha256"),
        toolchain=result.get("runtime") and f"runtime {result['runtime']}", valid=valid,
        p50_ms=latency.get("p50"), p90_ms=latency.get("p90"), p99_ms=latency.get("p99"),
        peak_model_bytes=result.get("model_rss_bytes"), ratio_ort=baseline.get("ratio"), **_origin(origin))


def from_bench(report: dict[str, Any], origin: Origin | None = None) -> list[Run]:
    """One row per model and engine of a bench report (flows/bench.py); the device is the host that ran it."""
    context = {k: v for k, v in report.items() if k not in ("models", "files")}
    host = origin.host if origin and origin.host else report.get("host")
    runs = []
    for entry in report.get("models", []):
        for engine, figures in entry.get("engines", {}).items():  # a model that failed to build has none
            model_bytes = figures.get("model_rss_mib")
            runs.append(Run(
                kind="bench", time=utc(report["time"]), engine=engine, model=entry["model"], recipe="none",
                target="host", device=host, bundle_sha256=entry.get("bundle_sha256"),
                data={**context, "model": entry["model"], "bundle_sha256": entry.get("bundle_sha256"),
                      "engine": engine, **figures},
                toolchain=entry.get("toolchain"), p50_ms=figures.get("median_ms"),
                peak_model_bytes=None if model_bytes is None else round(model_bytes * 2**20),
                ratio_ort=figures.get("ratio_median"), **{**_origin(origin), "host": host}))
    return runs


def from_bench_compress(report: dict[str, Any], origin: Origin | None = None) -> list[Run]:
    """One row per recipe of a bench-compress report (flows/bench_compress.py), host latency."""
    context = {k: v for k, v in report.items() if k not in ("rows", "file")}
    host = origin.host if origin and origin.host else report.get("host")
    return [Run(kind="bench-compress", time=utc(report["time"]), model=report["model"], recipe=row["recipe"],
                target="host", device=host, engine="tvm", data={**context, **row}, valid="error" not in row,
                p50_ms=row.get("latency_ms"), so_bytes=row.get("so_bytes"), transfer_bytes=row.get("transfer_bytes"),
                metric=row.get("metric"), metric_value=row.get("value"), **{**_origin(origin), "host": host})
            for row in report.get("rows", [])]


def from_tune(summary: dict[str, Any], origin: Origin | None = None) -> Run:
    """A tuning run: model, target, measuring device, kernels, trials, records promoted."""
    return Run(kind="tune", time=utc(summary["time"]), data=summary, model=summary.get("model"),
               target=summary.get("target"), device=summary.get("device"), emulated=bool(summary.get("emulated")),
               **_origin(origin))


def from_search(point: dict[str, Any], origin: Origin | None = None) -> Run:
    """A recipe-search trial (flows/search.py) or a chosen point re-measured on held-out data (`split`)."""
    return Run(kind="search", time=utc(point["time"]), data=point, model=point["model"], recipe=point["recipe"],
               target=point["target"], device=point.get("device"), engine="tvm", emulated=bool(point.get("emulated")),
               bundle_sha256=point.get("bundle_sha256"), p50_ms=point.get("latency_ms"),
               so_bytes=point.get("so_bytes"), transfer_bytes=point.get("transfer_bytes"), metric=point.get("metric_name"),
               metric_value=point.get("metric"), **_origin(origin))
