"""The int8 speed guard: an int8 build must be faster than the fp32 build (recipe none) of the same model
and target, or the build says so with the figures.

Where the target runs here, both bundles are timed side by side, one process each in alternating
blocks (bench.time_bundles), and the medians are cached under the build cache per (int8 manifest
sha256, fp32 manifest sha256, machine): never inside a bundle, whose hashed files stay as built. For
any other target the figures are the latest valid hardware profiles of both builds in the results
history (`invoke profile`; emulated runs never count); without them the guard says so and judges nothing.

A recipe's `speed-guard` decides what a slower int8 build does: "warn" (unset means warn; every shipped
recipe), "refuse" or "off". The guard runs after the bundle is complete: a refusal removes nothing (the
bundle stays as built, so the next build re-uses the cached figures and refuses again) and exits
non-zero with the figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import bundle, compress, targets
from ..errors import EdgebuildError, SpeedGuardRefused
from ..history import machine, utc
from ..progress import SILENT, Progress
from ..project import Project
from . import bench, history as results_history

RUNS = 40  # timed samples per bundle: alternating blocks of bench.BLOCK
Timer = Callable[..., list[list[float]]]  # bench.time_bundles


@dataclass(frozen=True)
class Figures:
    """int8 and fp32 medians and where they come from."""

    int8_p50_ms: float | None
    fp32_p50_ms: float | None
    source: str  # "measured here", or "hardware profiles"; "none" when there is nothing to compare
    measured: str | None  # UTC time of the measurement (the older profile's, for profiles)
    machine: str  # the CPU and host that timed both, or the devices
    detail: str  # how it was measured, or each profile's device, time and bundle
    reused: bool = False  # taken from the cache


NOTHING = Figures(None, None, "none", None, "", "")  # no figures to judge (the detail says why)


def check(project: Project, request, result, say: Callable[[str], None] = print, progress: Progress = SILENT,
          timer: Timer = bench.time_bundles) -> dict[str, Any] | None:
    """The guard's verdict on a finished build (None when the recipe has no int8 step); raises
    SpeedGuardRefused when int8 is not faster and the recipe refuses that."""
    from .build import build, runs_here  # build.build calls this module

    m = result.manifest
    model, target_name = m["model"]["name"], m["target"]["name"]
    recipe = compress.resolve(project, request.recipe)[0].for_model(model).for_target(target_name)
    if not recipe.int8:
        return None
    if recipe.guard == "off":
        return _verdict("off", "off", NOTHING, f'speed guard: off (recipe {recipe.name} sets speed-guard = "off")')
    try:
        if runs_here(targets.load(project, target_name)):
            say("speed guard: timing int8 against the fp32 build (recipe none) of the same model and target; "
                "building it unless it is up to date")
            fp32 = build(project, replace(request, recipe="none", out=None, calibration=None), say=lambda s: None,
                         progress=progress).bundle
            figures = measure_here(project, result.bundle, fp32, say, progress, timer)
        else:
            figures = from_profiles(project, model, recipe.name, target_name, bundle.manifest_sha256(result.bundle), say)
    except EdgebuildError as exc:  # the int8 bundle stands; the guard cannot judge it
        figures = replace(NOTHING, detail=f"could not compare int8 with fp32: {exc}")
    verdict = judge(recipe.guard, figures, target_name)
    if verdict["status"] == "slower" and recipe.guard == "refuse":
        raise SpeedGuardRefused("\n".join([verdict["line"], *_table(figures), f"the bundle at {result.bundle} is complete "
                                "and was kept; make int8 faster, or set speed-guard = \"warn\" in the recipe "
                                f"({recipe.name}) to accept it"]))
    return verdict


def judge(mode: str, figures: Figures, target: str) -> dict[str, Any]:
    """"int8 must win": slower when its median is not below fp32's."""
    if figures.int8_p50_ms is None or figures.fp32_p50_ms is None:
        return _verdict(mode, "unmeasured", figures, f"speed guard: {figures.detail}; nothing to compare, no verdict")
    ratio = figures.int8_p50_ms / figures.fp32_p50_ms
    status = "slower" if ratio >= 1 else "faster"
    where = "here" if figures.source == "measured here" else f"on {target}"
    head = {"faster": f"int8 beats fp32 {where}",
            "slower": f"{'REFUSED' if mode == 'refuse' else 'WARNING'}: int8 is not faster than fp32 {where}"}[status]
    when = (f"re-used the measurement of {_when(figures.measured)}" if figures.reused
            else "measured now" if figures.source == "measured here" else f"from the {figures.source}")
    line = (f"speed guard: {head}: int8 p50 {figures.int8_p50_ms:.4g} ms, fp32 p50 {figures.fp32_p50_ms:.4g} ms, "
            f"ratio {ratio:.2f}x, on {figures.machine}; {when} ({figures.detail})")
    return _verdict(mode, status, figures, line)


def _verdict(mode: str, status: str, figures: Figures, line: str) -> dict[str, Any]:
    """The guard's result as `invoke build --json` carries it (the same keys whatever the status)."""
    ratio = figures.int8_p50_ms / figures.fp32_p50_ms if figures.int8_p50_ms and figures.fp32_p50_ms else None
    return {"mode": mode, "status": status, **asdict(figures), "ratio": ratio and round(ratio, 4), "line": line}


def _table(figures: Figures) -> list[str]:
    return [f"  {'build':<6} {'p50 ms':>10}", f"  {'int8':<6} {figures.int8_p50_ms:>10.4g}",
            f"  {'fp32':<6} {figures.fp32_p50_ms:>10.4g}"]


def measure_here(project: Project, int8: Path, fp32: Path, say: Callable[[str], None] = print,
                 progress: Progress = SILENT, timer: Timer = bench.time_bundles) -> Figures:
    """Both host bundles timed side by side on this machine, or the cached figures of the same pair here."""
    here = {**machine(), "cpu_fingerprint": targets.host_cpu_fingerprint()}
    shas = [bundle.manifest_sha256(int8), bundle.manifest_sha256(fp32)]
    key = hashlib.sha256(json.dumps([*shas, here], sort_keys=True).encode()).hexdigest()
    path = project.cache_dir / "speed-guard" / f"{key}.json"
    described = f"{here['cpu_model']} ({here['machine']}, host {here['host']})"
    try:
        return replace(Figures(**json.loads(path.read_text())), reused=True)
    except (OSError, ValueError, TypeError):  # not measured yet (or an unreadable cache entry): measure
        pass
    say("speed guard: timing the int8 and fp32 bundles side by side")
    times = timer(project, [int8, fp32], RUNS, repeat=None, progress=progress)
    int8_ms, fp32_ms = (statistics.median(t) for t in times)
    figures = Figures(round(int8_ms, 6), round(fp32_ms, 6), "measured here", utc(), described,
                      f"medians of {RUNS} samples each, a sample being back-to-back runs for ~{bench.SAMPLE_MS:g} ms; "
                      f"one process each, alternating blocks; 1-min load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    os.replace(scratch, path)  # whole or absent: a reader never sees half a file
    return figures


def from_profiles(project: Project, model: str, recipe: str, target: str, int8_sha: str,
                  say: Callable[[str], None] = print, now: datetime | None = None) -> Figures:
    """The latest valid hardware (not emulated) profiles of `recipe` and of none for model x target."""
    runs = [r for r in results_history.list_runs(project, model=model, kind="profile", say=say)
            if r.target == target and not r.emulated and r.valid is True and r.p50_ms is not None]
    latest = {name: next((r for r in reversed(runs) if r.recipe == name), None) for name in (recipe, "none")}
    missing = [name for name, run in latest.items() if run is None]
    if missing:
        return replace(NOTHING, detail=f"no valid hardware profile of {model} x {' or '.join(missing)} x {target} in the "
                       f"results history (emulated ones do not count); `invoke profile` on a {target} board with "
                       f"--recipe={recipe} and --recipe=none records them")
    int8, fp32 = latest[recipe], latest["none"]
    devices = sorted({f"{r.device} ({r.data.get('cpu_model') or 'CPU unknown'})" for r in (int8, fp32)})

    def said(run, label: str) -> str:
        this = " of this bundle" if label == "int8" and run.bundle_sha256 == int8_sha else ""
        return f"{label} profiled on {run.device} {_when(run.time, now)}{this}"

    return Figures(int8.p50_ms, fp32.p50_ms, "hardware profiles", min(int8.time, fp32.time), ", ".join(devices),
                   f"{said(int8, 'int8')}; {said(fp32, 'fp32')}")


def _when(time: str, now: datetime | None = None) -> str:
    moment = datetime.fromisoformat(time.replace("Z", "+00:00"))
    seconds = ((now or datetime.now(timezone.utc)) - moment).total_seconds()
    age = next((f"{int(seconds // unit)} {name} ago" for unit, name in ((86400, "d"), (3600, "h"), (60, "min"))
                if seconds >= unit), "just now")
    return f"{moment:%Y-%m-%d %H:%M} UTC, {age}"
