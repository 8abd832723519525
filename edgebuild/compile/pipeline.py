"""How a Relax module becomes scheduled TIR for a target, before TVM's build finishes it.

Order: inference simplifications (plus channels-last and fast math on CPUs) -> legalize and fuse
into TIR kernels -> schedules from the target's tuning records (compile/tuning/<target>/, shared
across models by workload) -> schedule rules for every other kernel (schedule/) -> TVM's backend
pipeline.
"""

from __future__ import annotations

from pathlib import Path

from . import const_permute, weight_pack, fastmath, int8_matmul, layout, padding, recurrent_kernel, schedule

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

    CPUs get channels-last convolutions, constant weights packed (weight_pack.py) and vectorisable
    exp/erf/tanh/sigmoid (fastmath.py)."""
    import tvm
    from tvm import relax

    from .kernels import NODES_ATTR

    if mod.attrs is not None and NODES_ATTR in mod.attrs:  # provenance for messages, not part of the IR
        mod = mod.without_attr(NODES_ATTR)
    cpu = []
    if target.kind.name == "llvm":
        vec = schedule.params_for(target).vec
        cpu = [layout.to_nhwc(), padding.pad_out_channels(vec), relax.transform.FoldConstant(),  # padded weights
               tvm.ir.transform.module_pass(lambda m, _: weight_pack.pack(m, vec), 0, "WeightPack"), fastmath.fast_math(),
               tvm.ir.transform.module_pass(lambda m, _: int8_matmul.pack(m, target), 0, "Int8Pack")]
    with target:
        return tvm.transform.Sequential([
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            const_permute.fold(),
            *cpu,
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            relax.transform.FoldConstant(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ])(mod)


def lower(mod, target, records: Path | None, rules: bool = True):
    """(fused kernels, each with its tuning record's schedule or else the first schedule rule that
    applies, {kernel: "record" | rule name | "recurrent" (recurrent_kernel.py) | "none"}). GPU kernels
    are left to TVM's default GPU pipeline (dlight), which runs after this."""
    from tvm import relax, tirx

    from .kernels import NONE

    mod = fuse(mod, target)
    if has_records(records):
        with target, database(records):
            mod = relax.transform.MetaScheduleApplyDatabase()(mod)
    kernels = {gv.name_hint: _scheduler(f) for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)}
    if target.kind.name != "llvm":
        kernels = {k: v if v != NONE else "dlight" for k, v in kernels.items()}
        for gv, f in list(mod.functions.items()):
            if isinstance(f, tirx.PrimFunc) and f.attrs and recurrent_kernel.CONFIG_ATTR in f.attrs:
                mod[gv] = recurrent_kernel.for_gpu(f)
    elif rules:
        mod, ruled = schedule.schedule_module(mod, target)
        kernels.update(ruled)
    return mod, kernels


def _scheduler(func) -> str:
    """Who scheduled a kernel before the rules run: a hand-written kernel names itself; else a record or no one."""
    from .kernels import NONE, RECORD

    attrs = func.attrs or {}
    if recurrent_kernel.SCHEDULER_ATTR in attrs:
        return str(attrs[recurrent_kernel.SCHEDULER_ATTR])
    return RECORD if schedule.SCHEDULED in attrs else NONE
