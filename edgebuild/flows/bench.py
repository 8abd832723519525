"""Side-by-side latency on this machine: the TVM artifact vs ONNX Runtime (and PyTorch eager).

A benchmark, not a test: each engine runs in its own process on the same inputs and threads, the
engines alternating in blocks so that machine noise hits all of them alike; results are ratios
to ONNX Runtime.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import bundle
from ..compile import runner
from ..models import corpus
from .bench_load import BusyCore, loaded_figures
from . import history as results_history
from .build import BuildRequest, build
from ..history import from_bench, here, machine, utc
from ..errors import EdgebuildError
from ..progress import SILENT, Progress, Task
from ..project import Project


class BenchError(EdgebuildError):
    """An engine process of the benchmark failed."""

BENCH_MODELS = ("digits-cnn", "minilm", "mobilenetv2", "resnet18", "tinydet")
# Imported by each worker before its memory baseline, so that memory figures exclude the runtime's code.
RUNTIME_MODULES = {"onnxruntime": "onnxruntime", "tvm": "tvm", "tvm-untuned": "tvm", "pytorch": "torch"}
WARMUP = 3
# Engines (one process each) alternate in blocks, each led by an untimed run, with a pause between:
# thread pools (OpenMP, ORT, TVM) keep spinning for a while after a run.
BLOCK = 10
GAP_S = 0.05
SAMPLE_MS = 2.0  # a timed sample of a very fast model is the mean of a batch of runs lasting about this long


@dataclass
class Engine:
    name: str
    run: Callable[[], object]


def bench(project: Project, models: tuple[str, ...] = ("digits-cnn",), runs: int = 50, threads: int | None = None,
          input_shapes: tuple[str, ...] = (), untuned: bool = True, contention: bool = False, say=print,
          progress: Progress = SILENT, recipe: str = "none", calibration: str | None = None) -> dict:
    """Benchmark each model built with `recipe`; writes results/bench/<time>.json and .svg. Returns the report.

    With `contention`, every block is also run beside a busy process on one core (bench_load.py)."""
    threads = threads or os.cpu_count() or 1
    load = BusyCore() if contention else None
    try:
        reports = [_bench_or_error(project, m, runs, threads, input_shapes, untuned, load, say, progress, recipe,
                                   calibration) for m in corpus.expand(project.root, models)]
    finally:
        if load:
            load.close()
    report = {
        "time": utc(), **machine(), "recipe": recipe, "threads": threads, "runs": runs, "block": BLOCK,
        "contention": load.describe() if load else None, "tvm_runtime_env": runner.runtime_env(threads),
        "onnxruntime_options": {"graph_optimization_level": "ORT_ENABLE_ALL", "intra_op_num_threads": threads,
                                "inter_op_num_threads": 1, "providers": ["CPUExecutionProvider"]},
        "models": reports,
    }
    out = project.root / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / time.strftime("%Y%m%d-%H%M%S")
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".svg").write_text(plot(report))
    results_history.record(project, from_bench(report, here()), say)
    report["files"] = [str(stem.with_suffix(".json")), str(stem.with_suffix(".svg"))]
    return report


def _bench_or_error(project, model, *args) -> dict:
    """A model of a list that does not build is reported with its error; the others are still timed."""
    try:
        return _bench_model(project, model, *args)
    except EdgebuildError as exc:
        return {"model": model, "error": str(exc)}


def _bench_model(project, model, runs, threads, input_shapes, untuned, load, say, progress, recipe,
                 calibration) -> dict:
    request = BuildRequest(model=model, recipe=recipe, target="host", input_shapes=input_shapes, calibration=calibration)
    result = build(project, request, say=say, progress=progress)
    folder, manifest = result.bundle, result.manifest
    with tempfile.TemporaryDirectory(prefix="edgebuild-bench-") as scratch:
        specs = [("onnxruntime", str(folder / bundle.ONNX)), ("tvm", str(folder / bundle.SO))]
        if untuned:  # TVM's own pipeline, no schedule rules, no records: what edgebuild adds
            specs.append(("tvm-untuned", str(_untuned_library(folder, Path(scratch)))))
        if manifest["model"]["kind"] == "torch":
            specs.append(("pytorch", model))
        engines = [Worker(name, arg, folder, threads, project) for name, arg in specs]
        try:
            with progress.task(f"bench {model}", total=runs * len(engines), unit="runs") as shown:
                _measure(engines, runs, shown, load)
        finally:
            for engine in engines:
                engine.close()
    ort = engines[0].times_ms
    ort_memory = engines[0].memory["peak_rss_bytes"] - engines[0].memory["baseline_rss_bytes"]
    return {
        "model": manifest["model"]["name"], "bundle_sha256": bundle.manifest_sha256(folder),
        "toolchain": f"apache-tvm {manifest['toolchain'].get('apache-tvm')}",
        "build_s": round(sum(manifest.get("timings_s", {}).values()), 1),
        "parity": {k: v for k, v in manifest["metrics"].items()
                   if k.startswith("corpus_") or k == "max_abs_diff_vs_onnxruntime"},
        "engines": {
            e.name: loaded_figures(e.times_ms, e.loaded_ms, engines[0].loaded_ms) | {
                "median_ms": round(statistics.median(e.times_ms), 4), "min_ms": round(min(e.times_ms), 4),
                "ratio_median": round(statistics.median(e.times_ms) / statistics.median(ort), 3),
                "ratio_min": round(min(e.times_ms) / min(ort), 3),
                "peak_rss_mib": round(e.memory["peak_rss_bytes"] / 2**20, 1),
                "model_rss_mib": round((e.memory["peak_rss_bytes"] - e.memory["baseline_rss_bytes"]) / 2**20, 1),
                "model_rss_ratio": round((e.memory["peak_rss_bytes"] - e.memory["baseline_rss_bytes"])
                                         / max(1, ort_memory), 3),
            }
            for e in engines
        },
    }


def time_bundles(project: Project, folders: list[Path], runs: int, threads: int | None = None,
                 repeat: int | None = 1, progress: Progress = SILENT) -> list[list[float]]:
    """Milliseconds per run of each host bundle's model.so: one process each, alternating in blocks; a
    timed sample is the mean of `repeat` back-to-back runs (None: enough that the fastest bundle's last
    about SAMPLE_MS, chosen from a short untimed block of each)."""
    threads = threads or os.cpu_count() or 1
    engines = [Worker("tvm", str(f / bundle.SO), f, threads, project) for f in folders]
    try:
        if repeat is None:
            repeat = repeat_for(min(statistics.median(e.block(3)) for e in engines))
        with progress.task("timing side by side", total=runs * len(engines), unit="runs") as shown:
            _measure(engines, runs, shown, None, repeat)
    finally:
        for engine in engines:
            engine.close()
    return [e.times_ms for e in engines]


def repeat_for(median_ms: float) -> int:
    """Back-to-back runs per timed sample so that each lasts about SAMPLE_MS: well above the timer's
    resolution and the pipe's round trip."""
    return max(1, round(SAMPLE_MS / max(1e-3, median_ms)))


class Worker:
    """One engine in its own process (bench_worker.py), driven block by block over a pipe: thread
    pools of runtimes sharing one process (or spinning between runs) would bill each other."""

    def __init__(self, name: str, arg: str, folder: Path, threads: int, project: Project):
        self.name, self.times_ms, self.loaded_ms, self.memory = name, [], [], {}
        cmd = [sys.executable, "-m", "edgebuild.flows.bench_worker", name, arg, str(folder), str(threads), str(project.root)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise BenchError(f"the {name} worker failed to start (see its output above)")

    def block(self, n: int, repeat: int = 1) -> list[float]:
        self.proc.stdin.write(f"{n} {repeat}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"the {self.name} worker died during a run")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            line = self.proc.stdout.readline()
            try:  # exiting can take a while on a loaded machine (unmapping, thread pools)
                self.proc.wait(timeout=300)
            except subprocess.TimeoutExpired:  # its figures are in: a stalled teardown is not a failed bench
                self.proc.kill()
                self.proc.wait()
            if not line:
                raise BenchError(f"the {self.name} worker died before reporting its memory")
            self.memory = json.loads(line)


def _measure(engines: list[Worker], runs: int, shown: Task, load: BusyCore | None, repeat: int = 1) -> None:
    for block in range(0, runs, BLOCK):
        for engine in engines:
            engine.times_ms.extend(engine.block(min(BLOCK, runs - block), repeat))
            shown.advance(min(BLOCK, runs - block))
            time.sleep(GAP_S)  # lets the finished engine's threads stop spinning
            if load:
                with load.running():
                    engine.loaded_ms.extend(engine.block(min(BLOCK, runs - block)))
                time.sleep(GAP_S)


def format_report(report: dict) -> str:
    lines = [f"{report['threads']} threads, batch as built, {report['runs']} timed runs per engine, one process "
             f"each, alternating in blocks of {report['block']}; ratios to ONNX Runtime, by median and by min;",
             "memory: the engine process's peak resident set after loading and running the model, minus its "
             "resident set after importing the runtime (before the model); peak: the whole process's (TVM: runtime "
             "library only)"]
    loaded = bool(report.get("contention"))
    if loaded:
        lines.append(f"contention: each block also ran beside {report['contention']['load']}: loaded median, "
                     "the engine's own slowdown, and its loaded ratio to ONNX Runtime")
    for m in report["models"]:
        if "error" in m:
            lines.append(f"{m['model']}: FAILED: {m['error']}")
            continue
        lines.append(f"{m['model']} (built in {m.get('build_s', 0):.1f} s; parity: "
                     + ", ".join(f"{k}={v}" for k, v in m.get("parity", {}).items()) + ")")
        lines.append(f"  {'engine':<12} {'median ms':>10} {'min ms':>10} {'ratio':>7} {'ratio(min)':>10}"
                     f" {'model MiB':>10} {'peak MiB':>9} {'mem ratio':>9}"
                     + (f" {'loaded ms':>10} {'slowdown':>8} {'ratio':>7}" if loaded else ""))
        for name, e in m["engines"].items():
            lines.append(f"  {name:<12} {e['median_ms']:>10.3f} {e['min_ms']:>10.3f} {e['ratio_median']:>6.2f}x"
                         f" {e['ratio_min']:>9.2f}x {e['model_rss_mib']:>10.1f} {e['peak_rss_mib']:>9.1f}"
                         f" {e['model_rss_ratio']:>8.2f}x"
                         + (f" {e['loaded_median_ms']:>10.3f} {e['slowdown']:>7.2f}x {e['ratio_loaded']:>6.2f}x"
                            if loaded else ""))
    lines.append("onnxruntime: " + ", ".join(f"{k}={v}" for k, v in report["onnxruntime_options"].items()))
    lines.extend(f"wrote {f}" for f in report.get("files", []))
    return "\n".join(lines)


def plot(report: dict) -> str:
    """An SVG bar chart of ratio_median per model and engine (log scale, ONNX Runtime = 1)."""
    import math

    engines = sorted({e for m in report["models"] for e in m.get("engines", {})} - {"onnxruntime"})
    colors = dict(zip(engines, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")))
    width, row, bar = 720, 22, 18
    rows = [(m["model"], e, m["engines"][e]["ratio_median"]) for m in report["models"] if "engines" in m for e in engines
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


def make_engine(name: str, arg: str, folder: Path, threads: int, project: Project) -> Engine:
    """The engine `name` on the bundle in `folder` (run inside a worker process)."""
    inputs, _ = bundle.read_reference(folder / bundle.REFERENCE)
    names = [i["name"] for i in bundle.read_manifest(folder)["inputs"]]
    if name == "onnxruntime":
        return _onnxruntime(Path(arg), inputs, threads)
    if name == "pytorch":
        return _torch(project, arg, names, inputs, threads)
    os.environ["TVM_NUM_THREADS"] = str(threads)  # the bench's thread count, whatever the environment
    runner.configure(threads)  # and the runtime's thread-pool policy (read when its pool starts)
    return _tvm(name, Path(arg), names, inputs)


def _onnxruntime(model: Path, inputs, threads: int) -> Engine:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return Engine("onnxruntime", lambda: session.run(None, inputs))


def _tvm(name: str, library: Path, names: list[str], inputs) -> Engine:
    import tvm

    vm, weights = runner.load(library)
    args = [tvm.runtime.tensor(inputs[n]) for n in names] + weights
    main = vm["main"]
    return Engine(name, lambda: main(*args))


def _untuned_library(folder: Path, scratch: Path) -> Path:
    """The bundle's graph through TVM's stock CPU pipeline (nothing scheduled), for reference."""
    import tvm
    from tvm import relax as tvm_relax

    from ..compile import relax

    target = relax.host_target()
    executable = tvm.compile(relax.import_onnx(folder / bundle.ONNX), target=target,
                             relax_pipeline=tvm_relax.get_default_pipeline(target))
    path = scratch / "untuned.so"
    executable.export_library(str(path))
    return path


def _torch(project: Project, model: str, names: list[str], inputs, threads: int) -> Engine:
    import torch

    from ..models import resolve

    torch.set_num_threads(threads)
    module = resolve(model, project).load()
    args = [torch.from_numpy(inputs[n]) for n in names]

    def run():
        with torch.inference_mode():
            return module(*args)

    return Engine("pytorch", run)
