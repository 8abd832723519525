"""`invoke tune`: MetaSchedule search; records go to compile/tuning/<target>/.

Records are keyed by workload (the fused TIR kernel), so every later build of any model that
contains a matching kernel applies them.

A search runs into a scratch database per target (build/.cache/tune-search/, where a killed run
resumes); after each round, a kernel's best record is copied into the records folder only when it
beats the schedule rules' own kernel, measured the same way at the start (promote.py).

The host target is measured here. Any other CPU target is measured on a lab device of that target
(`--device=NAME`): candidates are cross-compiled here, linked with zig and timed on the device over
SSH (lab/tune_runner.py). An emulated device's timings are emulation, not the board's: its records go
to the git-ignored build/tuning-emulated/<target>/, which builds do not apply.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import export, models, targets
from ..compile import cross_builder, pipeline, relax, search
from ..errors import UsageError
from ..progress import SILENT, Progress
from ..history import from_tune, here, utc
from ..lab import inventory
from ..lab.inventory import Device
from ..models import shapes
from ..project import Project
from ..targets import Target
from . import history as results_history
EMULATED_DIR = "tuning-emulated"
SEARCH_DIR = "tune-search"


@dataclass
class TuneResult:
    records: Path
    tasks: int
    trials: int
    seconds: float
    kernels: list[dict] = field(default_factory=list)  # name, rule_us, search_us, promoted

    @property
    def promoted(self) -> int:
        return sum(k["promoted"] for k in self.kernels)


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
         input_shapes: tuple[str, ...] = (), device: str = "", say=print, progress: Progress = SILENT) -> TuneResult:
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
        tasks = search.tasks_of(fused, tvm_target)
        builder, runner = _measurers(project, where, search.per_task_batch(tasks, trials, minutes), say)
        on = f" on {where.device.name}" if where.device else ""
        say(f"tuning {len(tasks)} kernels for {tvm_target.attrs.get('mcpu', tvm_target.kind.name)}{on}; "
            f"search -> {where.search_dir(project)}, records that beat the schedule rules -> {where.records}")
        try:
            found = search.search(fused, tvm_target, tasks, builder, runner, where.search_dir(project), where.records,
                                  trials, minutes, logs, say, progress)
        finally:
            if hasattr(runner, "close"):
                runner.close()
        result = TuneResult(where.records, found.tasks, found.trials, found.seconds, found.kernels)
        results_history.record(project, [from_tune({
            "time": utc(), "model": chosen.name, "target": where.target.name,
            "device": where.device.name if where.device else None, "emulated": where.emulated,
            "records": str(where.records), "tasks": found.tasks, "trials": found.trials,
            "seconds": round(found.seconds, 1), "promoted": result.promoted, "kernels": found.kernels}, here())], say)
        return result


def _measurers(project: Project, where: Placement, batch: int, say):
    """(builder, runner): MetaSchedule's own for this machine; cross-linking and SSH for a device."""
    if where.device is None:
        from tvm.s_tir import meta_schedule as ms

        return cross_builder.local_builder(batch=batch), ms.runner.LocalRunner()
    from ..lab.tune_runner import DeviceRunner

    runner = DeviceRunner(inventory.load(project), where.device, kept=str(where.search_dir(project)), say=say)
    runner.open()
    return cross_builder.local_builder(where.target, batch), runner
