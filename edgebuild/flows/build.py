"""One build: model x recipe x target -> a self-contained bundle (see bundle.py).

Stages run in order: load -> compress -> export -> import -> compile -> reference -> metrics.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import bundle, compress, export, models, targets
from ..compile import relax, sparse, toolchain
from ..compile.kernels import table as kernel_table
from ..compress import ort_reference
from ..compress.onnx_tools import ort_errors
from ..compile.runner import HostModel
from ..errors import ModelError
from ..graph_stats import stats
from ..models import shapes
from ..models import samples
from ..progress import SILENT, Progress
from ..project import Project
from . import cache, history as results_history
from ..history import from_build, here, utc

Say = Callable[[str], None]
PARITY_RTOL = 1e-3
# Inputs beside the reference input on which a graph that quantizes at run time is checked, against
# ONNX Runtime here and against this build's outputs on the device (compress/ort_reference.py: its
# output flips by whole steps on some inputs, so it passes when most are within)
PARITY_SAMPLES = 8


@dataclass(frozen=True)
class BuildRequest:
    model: str = models.DEFAULT
    recipe: str = "none"
    target: str = "host"
    input_shapes: tuple[str, ...] = ()
    out: Path | None = None
    calibration: str | None = None  # int8 calibration samples: FILE.npz or "random"; default: the model's data
    reference: str | None = None  # FILE.npz: the inputs reference.npz, parity and the ORT diff use; default: the model's
    tuned: bool = True  # apply compile/tuning/<target>/ records; False: schedule rules only ("never tuned")

    def __post_init__(self):
        if self.out is not None:  # `--out=~/x` means the home folder, as in a shell
            object.__setattr__(self, "out", Path(self.out).expanduser())


@dataclass
class BuildResult:
    bundle: Path
    manifest: dict[str, Any]
    cached: bool
    timings: dict[str, float] = field(default_factory=dict)
    speed_guard: dict[str, Any] | None = None  # the speed guard's verdict (None: not run, or not an int8 recipe)


class _Stages:
    """Times each stage, shows it while it runs and reports it as it finishes."""

    def __init__(self, say: Say, progress: Progress, label: str):
        self.say, self.timings, self.progress, self.label = say, {}, progress, label

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        with self.progress.task(f"{self.label}: {name}"):
            yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        self.say(f"  {name:<10} {self.timings[name]:7.2f} s")


def build(project: Project, request: BuildRequest, say: Say = print, progress: Progress = SILENT,
          check_steps: Callable[[list[dict[str, Any]]], None] | None = None, guard: bool = False) -> BuildResult:
    """Build one bundle. `check_steps` sees the compression table's rows after each PyTorch step (their
    metric measured in PyTorch) and may raise to stop before the next step, the export and the compile
    (a search's cheap proxy). With `guard` (`invoke build`), an int8 build is then checked against fp32 by the speed
    guard (flows/speed_guard.py); flows that time bundles themselves (bench, search) leave it off."""
    result = _build(project, request, say, progress, check_steps)
    if guard:
        from . import speed_guard  # it imports bench, which imports this module

        result.speed_guard = speed_guard.check(project, request, result, say, progress)
    return result


def _build(project: Project, request: BuildRequest, say: Say, progress: Progress,
           check_steps: Callable[[list[dict[str, Any]]], None] | None) -> BuildResult:
    target = targets.load(project, request.target)
    model = models.resolve(request.model, project)
    model.progress = progress  # training a built-in model on first use
    recipe, recipe_file = compress.resolve(project, request.recipe)
    recipe = recipe.for_model(model.name).for_target(target.name)
    specs = shapes.resolve(model.name, model.inputs(), shapes.parse(request.input_shapes))
    out = (request.out or project.default_bundle_dir(model.name, recipe.name, target.name)).resolve()

    given = samples.one(Path(request.reference), specs, "reference") if request.reference else None
    versions = toolchain.versions()
    tools = toolchain.require(target)  # fail before any slow work when a tool is missing
    inputs_id = _file_id(request.calibration) + (_file_id(request.reference) if request.reference else "")
    key = cache.build_key(
        model_fingerprint=model.fingerprint() + inputs_id, specs=specs,
        recipe_file=recipe_file,
        target_file=targets.folder(project).path(target.name),
        target=target, tuning_dir=project.tuning_dir if request.tuned else None,
        versions={**versions, **tools},  # another nvcc compiles other kernels
    )
    previous = bundle.read_manifest(out)
    if previous and previous.get("cache_key") == key and bundle.intact(out, previous):
        say(f"{out}: up to date (cache key {key[:12]}), nothing to do")
        return BuildResult(out, previous, cached=True)

    bundle.check_replaceable(out)

    def records(target_name: str) -> Path | None:
        return project.tuning_dir / target_name if request.tuned else None

    pipeline = compress.Pipeline(recipe, model, specs, say, request.calibration, progress)  # rejects recipes that do not fit the model
    say(f"building {model.name} x {recipe.name} x {target.name} -> {out}")
    started = utc()
    stage = _Stages(say, progress, f"build {model.name} x {recipe.name} x {target.name}")
    with bundle.staged(out) as tmp, tempfile.TemporaryDirectory(prefix="edgebuild-host-") as scratch:
        with stage("load"):
            loaded = model.load()
        with stage("compress"):
            loaded = pipeline.torch_steps(loaded, check_steps)
        onnx_path = tmp / bundle.ONNX
        with stage("export"):
            note = export.to_onnx(loaded, specs, model.output_names, onnx_path)
        if note:
            say(f"  warning: {note}")
        if pipeline.active:
            with stage("quantize"):
                # model.onnx becomes the exact (quantized) graph compiled
                pipeline.graph_steps(onnx_path, _fp32_build(Path(scratch), specs, records("host")))
        outputs = export.graph_outputs(onnx_path)
        with stage("import"):
            mod = relax.import_onnx(onnx_path)
            if pipeline.sparse_kernel_above is not None:  # matmuls this sparse run a CSR kernel
                mod = sparse.rewrite(mod, pipeline.sparse_kernel_above)
        with stage("compile"):
            scheduled = relax.compile_for(target, mod, tmp / bundle.SO, tools, project.cache_dir, records(target.name))
        if scheduled["fallback"]:
            say(f"  warning: compiled unscheduled, {scheduled['fallback']}")
        # Metrics and reference outputs come from the same graph compiled for this machine.
        host_so = tmp / bundle.SO if runs_here(target) else Path(scratch) / "host.so"
        if host_so != tmp / bundle.SO:
            with stage("host"):
                relax.compile_host(mod, host_so, records("host"))
        runner = HostModel(host_so, [s.name for s in specs])
        with stage("reference"):
            inputs = given if request.reference else model.reference_inputs(specs)
            got = runner(inputs)
            _check_finite(outputs, got, request.reference)
            cases = [(inputs, got)]
            majority = _quantizes_at_run_time(onnx_path)
            if majority:
                more = [(s, runner(s)) for s in pipeline.samples(PARITY_SAMPLES)]
                cases += [(s, g) for s, g in more if not _nonfinite(outputs, g)]
                if len(cases) <= len(more):  # a device cannot match NaN or inf: such samples are left out
                    say(f"  warning: {len(more) + 1 - len(cases)} of {len(more)} calibration samples give NaN or "
                        "inf outputs; the parity check leaves them out")
            names = [o.name for o in outputs]
            bundle.write_reference(tmp / bundle.REFERENCE, [(i, dict(zip(names, g))) for i, g in cases])
            # shares measured on this machine's build of the same kernels (the target's own for host builds)
            shares = runner.profile(inputs)
        with stage("metrics"):
            metrics = model.metrics(runner, specs)
            metrics.update(_ort_diff(model, onnx_path, cases, say, compressed=pipeline.active))
            metrics.update(stats(onnx_path))
            metrics["transfer_bytes"] = bundle.transfer_bytes(tmp)
            # The gate judges the compiled graph; failing it raises here, so no bundle is written.
            table = pipeline.finish(metrics, onnx_path, runner)
        bundle.write_manifest(tmp, {
            "cache_key": key,
            # On-device outputs may differ from the host's by float reassociation (other SIMD, FMA).
            "parity_tolerance": PARITY_RTOL * max([1.0, *(float(np.abs(g).max()) for _, out in cases for g in out if g.size)]),
            "parity_inputs": len(cases),  # in reference.npz (lab/device/parity.py)
            "parity_rule": "majority" if majority else "every",
            "model": model.describe(),
            "recipe": {"name": recipe.name, "description": recipe.description, "steps": recipe.steps,
                       "gate": compress.dump(recipe.gate) if recipe.gate else None,
                       "model_override": model.name in (recipe.models or {}),
                       "target_override": target.name in (recipe.targets or {})},
            "target": {"name": target.name, "arch": target.arch, "tvm": json.loads(str(relax.tvm_target(target))),
                       "zig_target": target.link.zig_target},
            "inputs": [s.to_json() for s in specs],
            "outputs": [o.to_json() for o in outputs],
            "metrics": metrics,
            "kernels": kernel_table(scheduled["kernels"], shares, scheduled["fallback"]),
            "compression": table,
            "toolchain": {**versions, **tools, "build_host": platform.machine()},
            "timings_s": stage.timings,
        })
    manifest = bundle.read_manifest(out)
    results_history.record(project, [from_build(manifest, bundle.manifest_sha256(out), started, here())], say)
    return BuildResult(out, manifest, cached=False, timings=stage.timings)


def _quantizes_at_run_time(onnx_path: Path) -> bool:
    import onnx

    return ort_reference.quantizes_at_run_time(onnx.load(str(onnx_path), load_external_data=False))


def _nonfinite(outputs, got: list[np.ndarray]) -> list[str]:
    """The outputs holding NaN or inf."""
    return [o.name for o, g in zip(outputs, got) if g.dtype.kind in "fc" and not np.all(np.isfinite(g))]


def _check_finite(outputs, got: list[np.ndarray], reference: str | None) -> None:
    """Parity on a device cannot pass against NaN or inf, so a bundle never carries them."""
    bad = _nonfinite(outputs, got)
    if bad:
        given = f"--reference={reference}" if reference else "synthetic inputs (N(0,1) floats, zero integers)"
        raise ModelError(f"the compiled graph's output(s) {', '.join(bad)} hold NaN or inf on the reference input "
                         f"({given}); no bundle was written. Give inputs in the model's domain with "
                         "--reference=FILE.npz (one array per input, named like it), and check the model (and "
                         "the recipe: a compression step may have broken it) with ONNX Runtime")


def _fp32_build(scratch: Path, specs, records: Path | None):
    """ModelProto -> predict through edgebuild's own host build: the fp32 reference where ONNX Runtime
    cannot run the graph."""
    import onnx

    def build_predict(proto):
        path = scratch / "fp32.onnx"
        onnx.save(proto, str(path))
        relax.compile_host(relax.import_onnx(path), scratch / "fp32.so", records)
        return HostModel(scratch / "fp32.so", [s.name for s in specs])

    return build_predict


def _file_id(source: str | None) -> str:
    """Part of the cache key: a changed calibration file means another int8 graph, a changed reference
    file another reference.npz."""
    if source is None or source == "random":
        return f":{source or ''}"
    path = Path(source)
    return ":" + (models.base.sha256_file(path) if path.is_file() else str(path))


def runs_here(target: targets.Target) -> bool:
    return target.tvm["kind"] == "llvm" and target.is_native


def _ort_diff(model: models.Model, onnx_path: Path, cases: list[tuple[dict, list[np.ndarray]]], say: Say,
              compressed: bool = False) -> dict:
    """Max |TVM - ONNX Runtime| on the reference input (the first of `cases`: inputs, the build's
    outputs), on the graph compiled: for an ONNX file built without graph steps, the user's own file (the
    parity to check is the compiler's; how far compression moved the outputs is the gate's cosine_to_fp32).
    A quantized graph is judged against ONNX Runtime computing it by its definitions (ort_reference.py),
    within one output quantization step (or 1e-3 of the output's scale); one that quantizes activations
    at run time on every case, passing when most inputs are within. A build beyond it warns.

    A metric, not a gate: a graph ONNX Runtime cannot run still builds, with the reason recorded."""
    import onnx
    import onnxruntime as ort

    inputs, got = cases[0]
    source = onnx_path if compressed else getattr(model, "path", onnx_path)
    proto = onnx.load(str(source))
    try:
        if ort_reference.is_quantized(proto):
            judged = ort_reference.check(proto, cases)
            if not judged["within"]:
                say(f"  warning: the int8 graph's output is {judged['max_abs_diff']:.3g} from ONNX Runtime's "
                    f"exact result on the reference input, within its tolerance {judged['tolerance']:.3g} (one "
                    "output quantization step, or 1e-3 of the output's scale) on "
                    f"{judged['inputs_within']} of {judged['inputs']} inputs: a lowering of a quantized "
                    "operator disagrees with ONNX")
            return {"max_abs_diff_vs_onnxruntime": judged["max_abs_diff"],
                    "onnxruntime_parity_tolerance": judged["tolerance"],
                    "onnxruntime_parity_inputs": judged["inputs"],
                    "onnxruntime_parity_inputs_within": judged["inputs_within"]}
        options = ort.SessionOptions()
        options.log_severity_level = 3
        expected = ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"]).run(None, inputs)
    except ort_errors() as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {"max_abs_diff_vs_onnxruntime": None, "onnxruntime_unavailable": reason}
    diffs = [np.max(np.abs(np.asarray(e, dtype=np.float64) - g)) if e.size else 0.0 for e, g in zip(expected, got)]
    return {"max_abs_diff_vs_onnxruntime": float(np.max(diffs))}  # np.max, not max(): a NaN in any output shows


def list_targets(project: Project) -> list[targets.Target]:
    return targets.folder(project).load_all()


def list_recipes(project: Project) -> list[compress.Recipe]:
    return compress.folder(project).load_all()

