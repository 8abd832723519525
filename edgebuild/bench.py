"""Side-by-side latency on this machine: the TVM artifact vs ONNX Runtime (and PyTorch eager).

A benchmark, not a test: engines run in one process on the same inputs and threads, alternating
in blocks so that machine noise hits all of them alike; results are ratios to ONNX Runtime.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import bundle
from .build import BuildRequest, build
from .project import Project

BENCH_MODELS = ("digits-cnn", "minilm", "mobilenetv2", "resnet18")
WARMUP = 3
# Engines alternate in blocks, each block led by an untimed run: thread pools (OpenMP, ORT, TVM)
# keep spinning for a while after a run and would otherwise bill the next engine for it.
BLOCK = 10


@dataclass
class Engine:
    name: str
    run: Callable[[], object]
    times_ms: list[float] = field(default_factory=list)


def bench(project: Project, models: tuple[str, ...] = ("digits-cnn",), runs: int = 50, threads: int | None = None,
          input_shapes: tuple[str, ...] = (), untuned: bool = True, say=print) -> dict:
    """Benchmark each model; writes results/bench/<time>.json and .svg. Returns the report."""
    threads = threads or os.cpu_count() or 1
    _configure_tvm_threads(threads)
    reports = [_bench_model(project, m, runs, threads, input_shapes, untuned, say) for m in models]
    report = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "threads": threads, "runs": runs, "block": BLOCK,
        "onnxruntime_options": {"graph_optimization_level": "ORT_ENABLE_ALL", "intra_op_num_threads": threads,
                                "inter_op_num_threads": 1, "providers": ["CPUExecutionProvider"]},
        "models": reports,
    }
    out = project.root / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / time.strftime("%Y%m%d-%H%M%S")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".svg").write_text(plot(report))
    report["files"] = [str(stem.with_suffix(".json")), str(stem.with_suffix(".svg"))]
    return report


def _bench_model(project, model, runs, threads, input_shapes, untuned, say) -> dict:
    result = build(project, BuildRequest(model=model, target="host", input_shapes=input_shapes), say=say)
    folder, manifest = result.bundle, result.manifest
    inputs, _ = bundle.read_reference(folder / bundle.REFERENCE)
    names = [i["name"] for i in manifest["inputs"]]
    with tempfile.TemporaryDirectory(prefix="edgebuild-bench-") as scratch:
        engines = [_onnxruntime(folder, inputs, threads), _tvm("tvm", folder / bundle.SO, names, inputs)]
        if untuned:  # TVM's own pipeline, no schedule rules, no records: what edgebuild adds
            engines.append(_tvm("tvm-untuned", _untuned_library(folder, Path(scratch)), names, inputs))
        if manifest["model"]["kind"] == "torch":
            engines.append(_torch(project, model, names, inputs, threads))
        _measure(engines, runs)
    ort = engines[0].times_ms
    return {
        "model": manifest["model"]["name"], "bundle_sha256": bundle.manifest_sha256(folder),
        "engines": {
            e.name: {
                "median_ms": round(statistics.median(e.times_ms), 4), "min_ms": round(min(e.times_ms), 4),
                "ratio_median": round(statistics.median(e.times_ms) / statistics.median(ort), 3),
                "ratio_min": round(min(e.times_ms) / min(ort), 3),
            }
            for e in engines
        },
    }


def _measure(engines: list[Engine], runs: int) -> None:
    for engine in engines:
        for _ in range(WARMUP):
            engine.run()
    for block in range(0, runs, BLOCK):
        for engine in engines:
            engine.run()
            for _ in range(min(BLOCK, runs - block)):
                start = time.perf_counter()
                engine.run()
                engine.times_ms.append((time.perf_counter() - start) * 1e3)


def format_report(report: dict) -> str:
    lines = [f"{report['threads']} threads, batch as built, {report['runs']} timed runs per engine "
             f"(alternating in blocks of {report['block']}); ratios to ONNX Runtime, by median and by min"]
    for m in report["models"]:
        lines.append(f"{m['model']}")
        lines.append(f"  {'engine':<12} {'median ms':>10} {'min ms':>10} {'ratio':>7} {'ratio(min)':>10}")
        for name, e in m["engines"].items():
            lines.append(f"  {name:<12} {e['median_ms']:>10.3f} {e['min_ms']:>10.3f} {e['ratio_median']:>6.2f}x"
                         f" {e['ratio_min']:>9.2f}x")
    lines.append("onnxruntime: " + ", ".join(f"{k}={v}" for k, v in report["onnxruntime_options"].items()))
    lines.extend(f"wrote {f}" for f in report.get("files", []))
    return "\n".join(lines)


def plot(report: dict) -> str:
    """An SVG bar chart of ratio_median per model and engine (log scale, ONNX Runtime = 1)."""
    import math

    engines = sorted({e for m in report["models"] for e in m["engines"]} - {"onnxruntime"})
    colors = dict(zip(engines, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")))
    width, row, bar = 720, 22, 18
    rows = [(m["model"], e, m["engines"][e]["ratio_median"]) for m in report["models"] for e in engines
            if e in m["engines"]]
    height = 40 + row * len(rows)
    top = max(1.0, max((r for _, _, r in rows), default=1.0))
    scale = lambda r: 200 + 480 * (math.log10(max(r, 0.1)) + 1) / (math.log10(top) + 1.0001)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><text x="10" y="16">latency / ONNX Runtime (median, log scale; line = 1.0)</text>']
    for i, (model, engine, ratio) in enumerate(rows):
        y = 30 + i * row
        parts.append(f'<text x="10" y="{y + 13}">{model} {engine}</text>')
        parts.append(f'<rect x="200" y="{y}" width="{scale(ratio) - 200:.1f}" height="{bar}" fill="{colors[engine]}"/>')
        parts.append(f'<text x="{scale(ratio) + 4:.1f}" y="{y + 13}">{ratio:.2f}x</text>')
    parts.append(f'<line x1="{scale(1.0):.1f}" y1="24" x2="{scale(1.0):.1f}" y2="{height}" stroke="black"/></svg>')
    return "\n".join(parts) + "\n"


def _configure_tvm_threads(threads: int) -> None:
    # Read when TVM's pool starts. Unbound threads: TVM otherwise pins the calling thread to one
    # core, and every other engine in this process (PyTorch's OpenMP team) inherits that.
    os.environ["TVM_NUM_THREADS"] = str(threads)
    os.environ["TVM_BIND_THREADS"] = "0"


def _onnxruntime(folder: Path, inputs, threads: int) -> Engine:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / bundle.ONNX), options, providers=["CPUExecutionProvider"])
    return Engine("onnxruntime", lambda: session.run(None, inputs))


def _tvm(name: str, library: Path, names: list[str], inputs) -> Engine:
    import tvm
    from tvm.runtime.vm import VirtualMachine

    vm = VirtualMachine(tvm.runtime.load_module(str(library)), tvm.cpu())
    args = [tvm.runtime.tensor(inputs[n]) for n in names]
    main = vm["main"]
    return Engine(name, lambda: main(*args))


def _untuned_library(folder: Path, scratch: Path) -> Path:
    """The bundle's graph through TVM's stock CPU pipeline (nothing scheduled), for reference."""
    import tvm
    from tvm import relax as tvm_relax

    from .compile import relax

    target = relax.host_target()
    executable = tvm.compile(relax.import_onnx(folder / bundle.ONNX), target=target,
                             relax_pipeline=tvm_relax.get_default_pipeline(target))
    path = scratch / "untuned.so"
    executable.export_library(str(path))
    return path


def _torch(project: Project, model: str, names: list[str], inputs, threads: int) -> Engine:
    import torch

    from .models import resolve

    torch.set_num_threads(threads)
    module = resolve(model, project).load()
    args = [torch.from_numpy(inputs[n]) for n in names]

    def run():
        with torch.inference_mode():
            return module(*args)

    return Engine("pytorch", run)
