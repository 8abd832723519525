"""Only search results that beat the schedule rules enter a target's committed tuning records.

A record overrides the rules for its kernel in every later build, and MetaSchedule at budgets a
user waits for often finds something slower than the rules (64 trials on one ResNet-18 conv:
3.60 ms vs the rule's 3.45 ms). So `invoke tune` searches into a scratch database, measures each
kernel's rule schedule with the same builder and runner, and copies a kernel's best record into
compile/tuning/<target>/ only when it is faster than the rule by a margin. The rules themselves are
never stored as records: records would freeze them, and the rules keep improving.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

# A record must beat the rule by this fraction: timings of one run to the next differ by a few %.
MARGIN = 0.03


@dataclass
class Kernel:
    name: str
    rule_s: float | None  # None: no rule applies, or the rule's candidate failed to build or run
    best_s: float | None = None  # the search's best so far
    promoted: bool = False


def rule_times(tasks, target, builder, runner) -> list[Kernel]:
    """Each task's rule schedule, built and run like any search candidate."""
    from tvm.s_tir import meta_schedule as ms

    from . import schedule

    params = schedule.params_for(target)
    kernels, inputs, owners = [Kernel(t.task_name, None) for t in tasks], [], []
    for i, task in enumerate(tasks):
        workload = task.dispatched[0]
        try:
            sch, kind = schedule.schedule_func(workload["main"], params)
        except Exception:  # no rule: the search has nothing to beat
            continue
        if kind == "none":
            continue
        inputs.append(ms.builder.BuilderInput(sch.mod, target))
        owners.append(i)
    built = builder.build(inputs) if inputs else []
    runs, run_owners = [], []
    for i, result in zip(owners, built):
        if result.error_msg is None:
            args = ms.arg_info.ArgInfo.from_prim_func(tasks[i].dispatched[0]["main"])
            device = "cpu" if target.kind.name == "llvm" else target.kind.name
            runs.append(ms.runner.RunnerInput(result.artifact_path, device, args))
            run_owners.append(i)
    try:
        for i, future in zip(run_owners, runner.run(runs) if runs else []):
            result = future.result()
            if result.error_msg is None and result.run_secs:
                kernels[i].rule_s = _mean(result.run_secs)
    finally:
        for result in built:
            if result.artifact_path:
                shutil.rmtree(os.path.dirname(result.artifact_path), ignore_errors=True)
    return kernels


def promote(tasks, kernels: list[Kernel], scratch, committed) -> int:
    """Copy each kernel's best scratch record that beats its rule into `committed`; returns how many."""
    from tvm.s_tir import meta_schedule as ms

    count = 0
    for task, kernel in zip(tasks, kernels):
        workload_mod = task.dispatched[0]
        if not scratch.has_workload(workload_mod):
            continue
        best = scratch.get_top_k(scratch.commit_workload(workload_mod), 1)
        if not best or not best[0].run_secs:
            continue
        kernel.best_s = _mean(best[0].run_secs)
        if kernel.rule_s is not None and kernel.best_s >= kernel.rule_s * (1 - MARGIN):
            continue
        workload = committed.commit_workload(workload_mod)
        current = committed.get_top_k(workload, 1)
        if current and current[0].run_secs and _mean(current[0].run_secs) <= kernel.best_s:
            kernel.promoted = True  # already there (a resumed run)
            continue
        committed.commit_tuning_record(ms.database.TuningRecord(
            best[0].trace, workload, best[0].run_secs, best[0].target, best[0].args_info))
        kernel.promoted = True
        count += 1
    return count


def summary(kernels: list[Kernel]) -> str:
    lines = [f"  {'kernel':<58} {'rule us':>9} {'search us':>10}  builds use"]
    for k in kernels:
        rule = f"{k.rule_s * 1e6:9.2f}" if k.rule_s is not None else f"{'-':>9}"
        best = f"{k.best_s * 1e6:10.2f}" if k.best_s is not None else f"{'-':>10}"
        lines.append(f"  {k.name[:58]:<58} {rule} {best}  {'search' if k.promoted else 'rule'}")
    return "\n".join(lines)


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values)
