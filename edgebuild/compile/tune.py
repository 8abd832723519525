"""`invoke tune`: MetaSchedule search whose records go to compile/tuning/<target>/.

Records are keyed by workload (the fused TIR kernel), so every later build of any model that
contains a matching kernel applies them. The database is appended as measurements finish: a
killed run keeps what it measured, and the next run starts its search from those records.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import export, models, targets
from ..errors import UsageError
from ..models import shapes
from ..project import Project
from . import pipeline, relax

# Each search round measures about this many candidates per kernel before checking the clock.
TRIALS_PER_TASK_ROUND = 8
# MetaSchedule's 30 s default kills builds whose worker is still starting up on a busy 2-core box.
BUILD_TIMEOUT_S = 180


@dataclass
class TuneResult:
    records: Path
    tasks: int
    trials: int
    seconds: float


def tune(project: Project, model: str, target: str, trials: int = 0, minutes: float = 0.0,
         input_shapes: tuple[str, ...] = (), say=print) -> TuneResult:
    if (trials > 0) == (minutes > 0):
        raise UsageError("give exactly one budget: --trials=N or --minutes=N")
    spec = targets.load(project, target)
    if not (spec.tvm["kind"] == "llvm" and spec.is_native):
        raise UsageError(
            f"--target={target}: only targets that run on this machine (host) can be tuned here; tuning "
            f"{spec.arch} targets measures on a lab device, which is not supported yet"
        )
    chosen = models.resolve(model, project)
    specs = shapes.resolve(chosen.name, chosen.inputs(), shapes.parse(input_shapes))
    tvm_target = relax.tvm_target(spec)
    records = project.tuning_dir / spec.name
    with tempfile.TemporaryDirectory(prefix="edgebuild-tune-") as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        export.to_onnx(chosen.load(), specs, chosen.output_names, onnx_path)
        fused = pipeline.fuse(relax.import_onnx(onnx_path), tvm_target)
        logs = project.cache_dir / "tune-logs" / f"{chosen.name}-{spec.name}"
        return _search(fused, tvm_target, records, trials, minutes, logs, say)


def _search(fused, tvm_target, records: Path, trials: int, minutes: float, logs: Path, say) -> TuneResult:
    from tvm.s_tir import meta_schedule as ms

    tasks = ms.relax_integration.extract_tasks(fused, tvm_target)
    builder = ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S)
    # Spread every round over all kernels (the default scheduler gives its first pick a whole batch).
    per_task = TRIALS_PER_TASK_ROUND if minutes else max(1, min(TRIALS_PER_TASK_ROUND, trials // max(1, len(tasks))))
    per_round = max(1, len(tasks)) * per_task
    start, done = time.monotonic(), 0
    say(f"tuning {len(tasks)} kernels for {tvm_target.attrs.get('mcpu', tvm_target.kind.name)}; "
        f"records -> {records}")
    while True:
        budget = min(per_round, trials - done) if trials else per_round
        ms.relax_integration.tune_relax(
            mod=fused, params={}, target=tvm_target, work_dir=str(logs), database=pipeline.database(records),
            max_trials_global=budget, max_trials_per_task=per_task, num_trials_per_iter=per_task, seed=done,
            builder=builder,
        )
        done += budget
        elapsed = time.monotonic() - start
        say(f"  {done} trials, {elapsed / 60:.1f} min")
        if (trials and done >= trials) or (minutes and elapsed >= minutes * 60):
            return TuneResult(records, len(tasks), done, elapsed)
