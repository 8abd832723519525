"""`invoke tune`: MetaSchedule search; records go to compile/tuning/<target>/.

Records are keyed by workload (the fused TIR kernel), so every later build of any model that
contains a matching kernel applies them.

A search runs into a scratch database per target (build/.cache/tune-search/, where a killed run
resumes); after each round, a kernel's best record is copied into the records folder only when it
beats the schedule rules' own kernel, measured the same way at the start (promote.py).

The host target is measured here. Any other CPU target is measured on a lab device of that target
(`--device=NAME`): candidates are cross-compiled here, linked with zig and timed on the device over
SSH (remote_runner). An emulated device's timings are emulation, not the board's: its records go
to the git-ignored build/tuning-emulated/<target>/, which builds do not apply.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import export, models, targets
from ..errors import UsageError
from ..lab import inventory
from ..lab.inventory import Device
from ..models import shapes
from ..project import Project
from ..targets import Target
from . import cross_builder, pipeline, promote, relax

# Each search round measures about this many candidates per kernel before checking the clock.
TRIALS_PER_TASK_ROUND = 8
EMULATED_DIR = "tuning-emulated"
SEARCH_DIR = "tune-search"


@dataclass
class TuneResult:
    records: Path
    tasks: int
    trials: int
    seconds: float


@dataclass(frozen=True)
class Placement:
    """Where a tune measures (device None: this machine) and where its records go."""

    target: Target
    device: Device | None
    records: Path

    @property
    def emulated(self) -> bool:
        return self.device is not None and self.device.emulated

    def search_dir(self, project: Project) -> Path:
        """The scratch database of every search for this target (emulated devices apart)."""
        return project.cache_dir / SEARCH_DIR / (f"{self.target.name}-emulated" if self.emulated else self.target.name)


def place(project: Project, target: str = "", device: str = "") -> Placement:
    """The target, measuring device and records folder of `--target`/`--device`; UsageError when they clash."""
    if not device:
        spec = targets.load(project, target or "host")
        if not (spec.tvm["kind"] == "llvm" and spec.is_native):
            raise UsageError(f"--target={spec.name}: {spec.arch} code cannot be measured on this machine; tune it on a "
                             f"lab device of that target with --device=NAME (devices/lab.toml; `invoke lab.emulate` "
                             f"adds the emulated rpi4-emu)")
        return Placement(spec, None, project.tuning_dir / spec.name)
    chosen = inventory.load(project).get(device)
    if target and target != chosen.target:
        raise UsageError(f"--target={target} does not match device {chosen.name}, whose target is {chosen.target}; "
                         f"drop --target (it defaults to the device's) or pick a device of target {target}")
    spec = targets.load(project, chosen.target)
    if spec.tvm["kind"] != "llvm":
        raise UsageError(f"device {chosen.name}: its target {spec.name} is a {spec.tvm['kind']} target; "
                         f"tuning measures CPU (llvm) targets only")
    folder = project.build_dir / EMULATED_DIR if chosen.emulated else project.tuning_dir
    return Placement(spec, chosen, folder / spec.name)


def tune(project: Project, model: str, target: str = "", trials: int = 0, minutes: float = 0.0,
         input_shapes: tuple[str, ...] = (), device: str = "", say=print) -> TuneResult:
    if (trials > 0) == (minutes > 0):
        raise UsageError("give exactly one budget: --trials=N or --minutes=N")
    where = place(project, target, device)
    if where.emulated:
        say(f"{where.device.name} is emulated: its timings are emulation, so its records go to {where.records} "
            f"(git-ignored; builds do not apply them), never to {project.tuning_dir / where.target.name}")
    chosen = models.resolve(model, project)
    specs = shapes.resolve(chosen.name, chosen.inputs(), shapes.parse(input_shapes))
    tvm_target = relax.tvm_target(where.target)
    with tempfile.TemporaryDirectory(prefix="edgebuild-tune-") as scratch:
        onnx_path = Path(scratch) / "model.onnx"
        export.to_onnx(chosen.load(), specs, chosen.output_names, onnx_path)
        fused = pipeline.fuse(relax.import_onnx(onnx_path), tvm_target)
        logs = project.cache_dir / "tune-logs" / f"{chosen.name}-{where.target.name}"
        return _search(project, fused, tvm_target, where, trials, minutes, logs, say)


def _search(project, fused, tvm_target, where: Placement, trials: int, minutes: float, logs: Path, say) -> TuneResult:
    from tvm.s_tir import meta_schedule as ms

    tasks = ms.relax_integration.extract_tasks(fused, tvm_target)
    # Spread every round over all kernels (the default scheduler gives its first pick a whole batch).
    # Round-robin, because it commits each batch to the database as soon as it is measured; the
    # default (gradient) one joins nothing until it has visited every kernel, so a run killed or
    # stopped in its first round would keep no records.
    per_task = TRIALS_PER_TASK_ROUND if minutes else max(1, min(TRIALS_PER_TASK_ROUND, trials // max(1, len(tasks))))
    per_round = max(1, len(tasks)) * per_task
    builder, runner = _measurers(project, where, per_task, say)
    start, done = time.monotonic(), 0
    on = f" on {where.device.name}" if where.device else ""
    say(f"tuning {len(tasks)} kernels for {tvm_target.attrs.get('mcpu', tvm_target.kind.name)}{on}; "
        f"search -> {where.search_dir(project)}, records that beat the schedule rules -> {where.records}")
    try:
        kernels = promote.rule_times(tasks, tvm_target, builder, runner)
        say(f"  measured the schedule rules' kernels ({sum(k.rule_s is not None for k in kernels)} of {len(tasks)})")
        search, committed = pipeline.database(where.search_dir(project)), pipeline.database(where.records)
        while True:
            budget = min(per_round, trials - done) if trials else per_round
            try:
                ms.relax_integration.tune_relax(
                    mod=fused, params={}, target=tvm_target, work_dir=str(logs), database=search,
                    max_trials_global=budget, max_trials_per_task=per_task, num_trials_per_iter=per_task,
                    seed=done, builder=builder, runner=runner, task_scheduler="round-robin",
                )
            except Exception:
                # A device that stayed down surfaces here wrapped by MetaSchedule's C++ loop.
                if getattr(runner, "fatal", None) is not None:
                    raise runner.fatal from None
                raise
            done += budget
            promoted = promote.promote(tasks, kernels, search, committed)
            elapsed = time.monotonic() - start
            say(f"  {done} trials, {elapsed / 60:.1f} min, {promoted} new records beat the rules")
            if (trials and done >= trials) or (minutes and elapsed >= minutes * 60):
                say(promote.summary(kernels))
                return TuneResult(where.records, len(tasks), done, elapsed)
    finally:
        if hasattr(runner, "close"):
            runner.close()


def _measurers(project: Project, where: Placement, batch: int, say):
    """(builder, runner): MetaSchedule's own for this machine; cross-linking and SSH for a device."""
    if where.device is None:
        from tvm.s_tir import meta_schedule as ms

        return cross_builder.local_builder(batch=batch), ms.runner.LocalRunner()
    from .remote_runner import DeviceRunner

    runner = DeviceRunner(inventory.load(project), where.device, kept=str(where.search_dir(project)), say=say)
    runner.open()
    return cross_builder.local_builder(where.target, batch), runner
