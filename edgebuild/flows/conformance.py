"""Operator conformance: ONNX's node test cases through edgebuild, TVM's stock pipeline and ONNX Runtime.

A case passes on an engine when its outputs match the expected ones (ONNX's reference
implementation) within rtol 1e-3 / atol 1e-4. Workers (conformance_worker.py) run the cases in
batches, one process per batch, with a per-case timeout: a crash or a hang costs one case on one
engine, never the run. A loss is a case TVM's stock pipeline passes and edgebuild does not.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UsageError
from ..project import Project
from ..schema import Where, build as build_typed, load_toml
from .conformance_cases import ATOL, RTOL, Case, collect

ENGINES = ("edgebuild", "tvm", "onnxruntime")
SAMPLE = "tests/data/conformance-sample.toml"  # the committed CI sample, relative to the project root
SAMPLE_PER_OP = 3
BATCH = 40  # cases per worker process: amortises importing TVM (~2 s) and bounds its memory
CASE_TIMEOUT_S = 180.0
# The operator families edge models use (issue 9); other operators are reported under "other".
FAMILIES = {
    "conv/pool": ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                  "LpPool", "GlobalLpPool"),
    "normalization": ("BatchNormalization", "InstanceNormalization", "LayerNormalization"),
    "activations": ("Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Erf",
                    "Mish", "Softplus", "Elu", "Selu", "Clip"),
    "softmax": ("Softmax", "LogSoftmax"),
    "matmul": ("Gemm", "MatMul", "Einsum"),
    "resize": ("Resize",),
    "pad": ("Pad",),
    "shape/index": ("Slice", "Split", "Concat", "Gather", "Reshape", "Transpose", "Expand", "Tile", "Where",
                    "Cast", "Squeeze", "Unsqueeze", "Range", "Flatten"),
    "reductions": ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "Min", "Max"),
    "depth/space": ("DepthToSpace", "SpaceToDepth"),
    "recurrent": ("LSTM", "GRU", "RNN"),
    "quantized": ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul",
                  "MatMulInteger", "ConvInteger"),
}
FAMILY_OF = {op: family for family, ops in FAMILIES.items() for op in ops}
Say = Callable[[str], None]
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the edgebuild package


@dataclass(frozen=True)
class Sample:
    """A committed case list (tests/data/conformance-sample.toml), pinned to the onnx it was taken from."""

    onnx: str
    rule: str
    modules: list[str]
    cases: list[str]


def load_sample(path: Path) -> Sample:
    return build_typed(Sample, load_toml(path), Where(path))


def sample_by_rule(cases: list[Case], per_op: int = SAMPLE_PER_OP) -> list[Case]:
    """The CI sample's rule: the first `per_op` in-scope cases by name of every operator in FAMILIES."""
    taken: Counter = Counter()
    chosen = []
    for case in sorted(cases, key=lambda c: c.name):
        if case.out_of_scope is None and case.op in FAMILY_OF and taken[case.op] < per_op:
            taken[case.op] += 1
            chosen.append(case)
    return chosen


def write_sample(path: Path, per_op: int = SAMPLE_PER_OP) -> Sample:
    """Take the sample from the installed onnx by the rule and write it to `path` (TOML)."""
    import onnx

    chosen = sample_by_rule(collect(), per_op)
    sample = Sample(onnx=onnx.__version__, rule=f"the first {per_op} in-scope cases by name of every operator "
                    "of the edge families (edgebuild.flows.conformance.FAMILIES)",
                    modules=sorted({c.module for c in chosen}), cases=[c.name for c in chosen])
    quoted = lambda items: "[\n" + "".join(f'  "{i}",\n' for i in items) + "]"  # noqa: E731
    path.write_text(f'# Written by `invoke conformance --write-sample`; CI runs these (tests/integration).\n'
                    f'onnx = "{sample.onnx}"\nrule = "{sample.rule}"\nmodules = {quoted(sample.modules)}\n'
                    f'cases = {quoted(sample.cases)}\n')
    return sample


def select(cases: list[Case], ops: set[str] | None = None, names: set[str] | None = None) -> list[Case]:
    chosen = [c for c in cases if (ops is None or c.op in ops) and (names is None or c.name in names)]
    if ops is not None and not chosen:
        raise UsageError(f"--ops={','.join(sorted(ops))}: no ONNX test case tests these operators; operators "
                         "are spelled as in ONNX (Conv, MatMul, ReduceMean...)")
    return chosen


def run(project: Project, ops: set[str] | None = None, sample: Path | None = None, jobs: int = 2,
        engines: tuple[str, ...] = ENGINES, timeout: float = CASE_TIMEOUT_S, say: Say = print) -> dict:
    """Run the cases (all, those of `ops`, or a committed sample) and return the report."""
    import onnx

    start = time.perf_counter()
    pinned = load_sample(sample) if sample else None
    if pinned and pinned.onnx != onnx.__version__:
        raise UsageError(f"{sample}: taken from onnx {pinned.onnx}, and onnx {onnx.__version__} is installed; "
                         "its cases may differ. Install that version, or regenerate the sample for this one")
    say("collecting ONNX's node test cases...")
    cases = select(collect(set(pinned.modules) if pinned else None), ops, set(pinned.cases) if pinned else None)
    if pinned and len(cases) != len(pinned.cases):
        missing = sorted(set(pinned.cases) - {c.name for c in cases})
        raise UsageError(f"{sample}: cases not found in onnx {onnx.__version__}: {', '.join(missing[:5])}")
    todo = [c for c in cases if c.out_of_scope is None]
    say(f"{len(todo)} cases in scope ({len(cases) - len(todo)} out of scope), {jobs} workers, engines: "
        + ", ".join(engines))
    results = _run_parallel(project, todo, engines, jobs, timeout, say)
    return report(cases, results, engines, time.perf_counter() - start, sample)


def _run_parallel(project, cases: list[Case], engines, jobs: int, timeout: float, say: Say) -> dict:
    batches = [cases[i:i + BATCH] for i in range(0, len(cases), BATCH)]
    results: dict[str, dict] = {}
    lock = threading.Lock()
    pending = queue.Queue()
    for b in batches:
        pending.put(b)

    def work():
        while True:
            try:
                batch = pending.get_nowait()
            except queue.Empty:
                return
            got = run_batch(project, batch, engines, timeout)
            with lock:
                results.update(got)
                say(f"  {len(results)}/{len(cases)} cases done")

    threads = [threading.Thread(target=work) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_batch(project: Project, batch: list[Case], engines, timeout: float) -> dict[str, dict]:
    """{case name: {engine: result}} for `batch`, restarting the worker after a crash or a timeout."""
    results: dict[str, dict] = {c.name: {} for c in batch}
    with tempfile.TemporaryDirectory(prefix="edgebuild-conformance-") as tmp:
        batch_file, log = Path(tmp) / "batch.pkl", Path(tmp) / "stderr.log"
        batch_file.write_bytes(pickle.dumps(batch))
        first = 0
        while first < len(batch):
            first = _worker(project, batch, batch_file, log, first, engines, timeout, results)
    return results


def _worker(project, batch, batch_file: Path, log: Path, first: int, engines, timeout: float, results) -> int:
    """Run one worker from case `first`; returns the index to restart from (len(batch) when done)."""
    cmd = [sys.executable, "-m", "edgebuild.flows.conformance_worker", str(batch_file), str(project.root),
           str(first), ",".join(engines)]
    # the worker imports this same edgebuild, wherever the project (tasks.py) lives
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])),
           "TVM_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)], daemon=True).start()
    running = None
    try:
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                _kill(proc)
                return _charge(batch, running, results, "timeout", f"no result within {timeout:.0f} s", first, engines)
            if line is None:
                proc.wait()
                if running is None:
                    return len(batch)
                tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-1:]
                why = f"worker died (exit {proc.returncode})" + (f": {tail[0][:300]}" if tail else "")
                return _charge(batch, running, results, "crash", why, first, engines)
            message = json.loads(line)
            if "start" in message:
                running = tuple(message["start"])
            else:
                results[batch[message.pop("case")].name][message.pop("engine")] = message
                running = None
    finally:
        if proc.poll() is None:
            _kill(proc)
        proc.wait()


def _kill(proc) -> None:
    """The worker and whatever it started (a linker): its own process group (start_new_session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _charge(batch, running, results, status: str, detail: str, first: int, engines) -> int:
    """Record the failure on the case and engine that were running; the worker restarts after them.
    A worker that died before starting a case is charged to its first case, on every engine."""
    index, names = (running[0], [running[1]]) if running else (first, list(engines))
    for name in names:
        results[batch[index].name][name] = {"status": status, "detail": detail}
    return index + 1


def report(cases: list[Case], results: dict, engines, seconds: float, sample: Path | None) -> dict:
    """Per-case results, per-operator and per-family pass counts, and the losses against stock TVM."""
    import onnx

    rows, out_of_scope = [], Counter()
    for case in cases:
        if case.out_of_scope:
            out_of_scope[case.out_of_scope] += 1
            continue
        got = results.get(case.name, {})
        rows.append({"name": case.name, "op": case.op, "family": FAMILY_OF.get(case.op, "other"),
                     "folded": case.folded, "results": {e: got.get(e, {"status": "missing"}) for e in engines}})
    return {"onnx": onnx.__version__, "rtol": RTOL, "atol": ATOL, "sample": str(sample) if sample else None,
            "engines": list(engines), "seconds": round(seconds, 1), "cases": rows,
            "operators": _tally(rows, "op", engines), "families": _tally(rows, "family", engines),
            "folded_cases": sum(1 for r in rows if r["folded"]),
            "out_of_scope": dict(sorted(out_of_scope.items())),
            "losses": [r["name"] for r in rows if _passed(r, "tvm") and not _passed(r, "edgebuild")]
            if {"tvm", "edgebuild"} <= set(engines) else None}


def _passed(row: dict, engine: str) -> bool:
    return row["results"].get(engine, {}).get("status") == "pass"


def _tally(rows: list[dict], key: str, engines) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = table.setdefault(row[key], {"cases": 0, "folded": 0, **{e: 0 for e in engines}})
        entry["cases"] += 1
        entry["folded"] += bool(row["folded"])
        for engine in engines:
            entry[engine] += _passed(row, engine)
    return dict(sorted(table.items()))


def format_report(report: dict, by: str = "operators") -> str:
    """The per-operator (or per-family) table, the losses and what was left out of scope."""
    engines = report["engines"]
    head = ({"operators": "operator", "families": "family"}[by], "cases", *engines, "folded")
    rows = [head] + [(k, str(v["cases"]), *(str(v[e]) for e in engines), str(v["folded"] or ""))
                     for k, v in report[by].items()]
    total = {e: sum(v[e] for v in report[by].values()) for e in ("cases", *engines)}
    rows.append(("total", str(total["cases"]), *(str(total[e]) for e in engines), str(report["folded_cases"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"ONNX {report['onnx']} node test cases; pass = outputs within rtol {report['rtol']:g} / atol "
             f"{report['atol']:g} of ONNX's reference; 'folded': cases whose shape-defining graph inputs were "
             "folded to the case's values (for edgebuild and stock TVM alike)"]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    if report["losses"] is not None:
        lines.append(f"cases stock TVM passes and edgebuild does not: {len(report['losses'])}")
        details = {r["name"]: r["results"]["edgebuild"] for r in report["cases"]}
        lines += [f"  {n}: {details[n]['status']}: {details[n].get('detail')}" for n in report["losses"]]
    if report["out_of_scope"]:
        lines.append("out of scope: " + ", ".join(f"{k} ({v})" for k, v in report["out_of_scope"].items()))
    lines.append(f"{report['seconds']:.0f} s")
    return "\n".join(lines)
