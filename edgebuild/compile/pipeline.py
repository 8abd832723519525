"""How a Relax module becomes scheduled TIR for a target, before TVM's build finishes it.

Order: inference simplifications -> legalize and fuse into TIR kernels -> schedules from the
target's tuning records (compile/tuning/<target>/, shared across models by workload) -> TVM's
default pipeline for whatever is left.
"""

from __future__ import annotations

from pathlib import Path

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
    """Legalized, fused TIR kernels: the unit that tuning records are keyed by."""
    import tvm
    from tvm import relax

    with target:
        return tvm.transform.Sequential([
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            relax.transform.FoldConstant(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ])(mod)


def lower(mod, target, records: Path | None):
    """Fused kernels with the best recorded schedule applied to every kernel that has one."""
    from tvm import relax

    mod = fuse(mod, target)
    if has_records(records):
        with target, database(records):
            mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    return mod
