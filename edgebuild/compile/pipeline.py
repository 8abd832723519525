"""How a Relax module becomes scheduled TIR for a target, before TVM's build finishes it.

Order: inference simplifications (plus channels-last and fast math on CPUs) -> legalize and fuse
into TIR kernels -> schedules from the target's tuning records (compile/tuning/<target>/, shared
across models by workload) -> schedule rules for every other kernel (schedule/) -> TVM's backend
pipeline.
"""

from __future__ import annotations

from pathlib import Path

from . import fastmath, int8_matmul, layout, padding, schedule

WORKLOADS = "database_workload.json"
RECORDS = "database_tuning_record.json"


def has_records(folder: Path | None) -> bool:
    return folder is not None and (folder / RECORDS).is_file() and (folder / WORKLOADS).is_file()


def database(folder: Path):
    """The MetaSchedule database stored in `folder` (created on first write)."""
    from tvm.s_tir import meta_schedule as ms

    folder.mkdir(parents=True, exist_ok=True)
    return ms.database.JSONDatabase(work_dir=str(folder), allow_missing=True, module_equality="structural")


def fuse(mod, target):
    """Legalized, fused TIR kernels: the unit that tuning records are keyed by.

    CPUs get channels-last convolutions and vectorisable exp/erf/tanh/sigmoid (fastmath.py)."""
    import tvm
    from tvm import relax

    cpu = [layout.to_nhwc(), padding.pad_out_channels(schedule.params_for(target).vec),
           fastmath.fast_math(), tvm.ir.transform.module_pass(lambda m, _: int8_matmul.pack(m, target), 0, "Int8Pack")
           ] if target.kind.name == "llvm" else []
    with target:
        return tvm.transform.Sequential([
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            *cpu,
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            relax.transform.FoldConstant(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ])(mod)


def lower(mod, target, records: Path | None, rules: bool = True):
    """Fused kernels, each with its tuning record's schedule or else the first schedule rule that
    applies (CPU targets; GPU kernels are scheduled by TVM's default GPU pipeline)."""
    from tvm import relax

    mod = fuse(mod, target)
    if has_records(records):
        with target, database(records):
            mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    if rules and target.kind.name == "llvm":
        mod, _ = schedule.schedule_module(mod, target)
    return mod
