"""MetaSchedule search of a fused module's kernels, promoting records that beat the schedule rules.

Every measured candidate goes to the search database batch by batch (a killed run keeps them); after
each round a kernel's best record is copied into the records database only when it beats the rules'
own kernel, timed with the same builder and runner at the start (promote.py). Where candidates are
built and measured is the caller's choice: any MetaSchedule builder and runner (this machine's, or a
lab device's, which the lab package supplies).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pipeline, promote, tvmscript
from ..progress import SILENT, Progress

# Each search round measures about this many candidates per kernel before checking the clock.
TRIALS_PER_TASK_ROUND = 8
# MetaSchedule's evolutionary search evolves 512 candidates per kernel and batch (its default) to pick
# the few it measures; a batch of fewer measurements evolves proportionally fewer (most of a small
# run's time was that evolution: ~400 of ~600 s of a 7-trial digits-cnn run).
POPULATION_PER_TRIAL, MAX_POPULATION = 64, 512


@dataclass
class SearchResult:
    tasks: int
    trials: int
    seconds: float
    kernels: list[dict] = field(default_factory=list)  # name, rule_us, search_us, promoted (for the history)


def tasks_of(fused, tvm_target):
    from tvm.s_tir import meta_schedule as ms

    tvmscript.import_tensor_intrinsics()  # before MetaSchedule's first tuning context imports them slowly
    return ms.relax_integration.extract_tasks(fused, tvm_target)


def per_task_batch(tasks: list, trials: int, minutes: float) -> int:
    """Candidates per kernel and round: spread every round over all kernels."""
    return TRIALS_PER_TASK_ROUND if minutes else max(1, min(TRIALS_PER_TASK_ROUND, trials // max(1, len(tasks))))


def population(per_task: int) -> int:
    """Candidates evolved per kernel and batch for a batch measuring `per_task` of them."""
    return min(MAX_POPULATION, POPULATION_PER_TRIAL * per_task)


def search(fused, tvm_target, tasks: list, builder, runner, search_dir: Path, records_dir: Path, trials: int,
           minutes: float, logs: Path, say=print, progress: Progress = SILENT) -> SearchResult:
    from tvm.s_tir import meta_schedule as ms

    # Round-robin, because it commits each batch to the database as soon as it is measured; the
    # default (gradient) one joins nothing until it has visited every kernel, so a run killed or
    # stopped in its first round would keep no records.
    per_task = per_task_batch(tasks, trials, minutes)
    per_round = max(1, len(tasks)) * per_task
    start, done = time.monotonic(), 0
    kernels = promote.rule_times(tasks, tvm_target, builder, runner)
    say(f"  measured the schedule rules' kernels ({sum(k.rule_s is not None for k in kernels)} of {len(tasks)})")
    database, committed = pipeline.database(search_dir), pipeline.database(records_dir)
    # A round's trials when the budget is trials, else the seconds spent (checked between rounds).
    with progress.task(f"tuning {len(tasks)} kernels", total=trials or round(minutes * 60),
                       unit="trials" if trials else "s") as shown:
        while True:
            budget = min(per_round, trials - done) if trials else per_round
            try:
                ms.relax_integration.tune_relax(
                    mod=fused, params={}, target=tvm_target, work_dir=str(logs), database=database,
                    max_trials_global=budget, max_trials_per_task=per_task, num_trials_per_iter=per_task,
                    seed=done, builder=builder, runner=runner, task_scheduler="round-robin",
                    strategy=ms.search_strategy.EvolutionarySearch(population_size=population(per_task)),
                )
            except Exception:
                # A runner's fatal error (a device that stayed down) surfaces here wrapped by MetaSchedule's C++ loop.
                if getattr(runner, "fatal", None) is not None:
                    raise runner.fatal from None
                raise
            done += budget
            promoted = promote.promote(tasks, kernels, database, committed)
            elapsed = time.monotonic() - start
            say(f"  {done} trials, {elapsed / 60:.1f} min, {promoted} new records beat the rules")
            shown.set(done if trials else round(elapsed))
            if (trials and done >= trials) or (minutes and elapsed >= minutes * 60):
                say(promote.summary(kernels))
                return SearchResult(len(tasks), done, elapsed, [
                    {"name": k.name, "promoted": bool(k.promoted),
                     "rule_us": None if k.rule_s is None else round(k.rule_s * 1e6, 3),
                     "search_us": None if k.best_s is None else round(k.best_s * 1e6, 3)} for k in kernels])
