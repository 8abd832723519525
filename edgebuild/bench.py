"""Side-by-side latency on this machine: the TVM artifact vs ONNX Runtime (and PyTorch eager).

A benchmark, not a test: engines run alternately in one process on the same inputs and threads,
so machine noise hits all of them alike; the result is reported as ratios to ONNX Runtime.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import bundle
from .build import BuildRequest, build
from .project import Project

WARMUP = 5
# Engines alternate in blocks, each block led by an untimed run: thread pools (OpenMP, ORT, TVM)
# keep spinning for a while after a run and would otherwise bill the next engine for it.
BLOCK = 10


@dataclass
class Engine:
    name: str
    run: Callable[[], object]
    times_ms: list[float]


def bench(project: Project, model: str = "digits-cnn", runs: int = 50, threads: int | None = None,
          input_shapes: tuple[str, ...] = (), say=print) -> dict:
    threads = threads or os.cpu_count() or 1
    result = build(project, BuildRequest(model=model, target="host", input_shapes=input_shapes), say=say)
    folder, manifest = result.bundle, result.manifest
    inputs, _ = bundle.read_reference(folder / bundle.REFERENCE)
    engines = [_onnxruntime(folder, inputs, threads), _tvm(folder, manifest, inputs, threads)]
    if manifest["model"]["kind"] == "torch":
        engines.append(_torch(project, model, manifest, inputs, threads))

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

    ort_median = statistics.median(engines[0].times_ms)
    report = {
        "model": manifest["model"]["name"], "bundle_sha256": bundle.manifest_sha256(folder),
        "threads": threads, "runs": runs, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "onnxruntime_options": {"graph_optimization_level": "ORT_ENABLE_ALL", "intra_op_num_threads": threads,
                                "inter_op_num_threads": 1, "providers": ["CPUExecutionProvider"]},
        "engines": {
            e.name: {"median_ms": round(statistics.median(e.times_ms), 4), "min_ms": round(min(e.times_ms), 4),
                     "ratio_to_onnxruntime": round(statistics.median(e.times_ms) / ort_median, 3)}
            for e in engines
        },
    }
    out = project.root / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{report['model']}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_report(report: dict) -> str:
    lines = [f"{report['model']}: batch as built, {report['threads']} threads, median of {report['runs']} runs (engines alternating in blocks of {BLOCK})",
             f"  {'engine':<14} {'median ms':>10} {'min ms':>10} {'vs ORT':>8}"]
    for name, e in report["engines"].items():
        lines.append(f"  {name:<14} {e['median_ms']:>10.3f} {e['min_ms']:>10.3f} {e['ratio_to_onnxruntime']:>7.2f}x")
    lines.append("  onnxruntime session: " + ", ".join(f"{k}={v}" for k, v in report["onnxruntime_options"].items()))
    return "\n".join(lines)


def _onnxruntime(folder: Path, inputs, threads: int) -> Engine:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(folder / bundle.ONNX), options, providers=["CPUExecutionProvider"])
    return Engine("onnxruntime", lambda: session.run(None, inputs), [])


def _tvm(folder: Path, manifest: dict, inputs, threads: int) -> Engine:
    # Read when TVM's pool starts. Unbound threads: TVM otherwise pins the calling thread to one
    # core, and every other engine in this process (PyTorch's OpenMP team) inherits that.
    os.environ["TVM_NUM_THREADS"] = str(threads)
    os.environ["TVM_BIND_THREADS"] = "0"
    import tvm
    from tvm.runtime.vm import VirtualMachine

    lib = tvm.runtime.load_module(str(folder / bundle.SO))
    vm = VirtualMachine(lib, tvm.cpu())
    args = [tvm.runtime.tensor(inputs[i["name"]]) for i in manifest["inputs"]]
    main = vm["main"]
    return Engine("tvm", lambda: main(*args), [])


def _torch(project: Project, model: str, manifest: dict, inputs, threads: int) -> Engine:
    import torch

    from .models import resolve

    torch.set_num_threads(threads)
    module = resolve(model, project).load()
    args = [torch.from_numpy(inputs[i["name"]]) for i in manifest["inputs"]]

    def run():
        with torch.inference_mode():
            return module(*args)

    return Engine("pytorch", run, [])
