"""deploy and profile across devices: select, build what is missing, run per device in parallel.

Each device gets its own connection and its own outcome; one device failing never stops the others.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import paramiko

from . import build as builder, history as results_history
from ..history import from_profile, here
from ..errors import DeviceError, EdgebuildError, UsageError
from ..progress import SILENT, Progress, uploads
from ..project import Project
from ..schema import PROFILE_RESULT_FIELDS, PROFILE_RESULT_VERSION
from ..lab import inventory, jetson, remote, results, validity
from ..lab.agent_run import AgentOptions, run_agent
from ..lab.deploy import Deployed, LocalBundle, Progress as Uploads, deploy
from ..lab.inventory import Device
from ..lab.provision import ensure_baseline
from ..bundle import ONNX
from ..models import corpus
from ..lab.transport import Timeouts, connect, link_lost


@dataclass(frozen=True)
class Artifact:
    """What to deploy: a bundle folder, or a model and recipe built for each device's target."""

    model: str = "digits-cnn"
    recipe: str = "none"
    bundle: Path | None = None
    target: str | None = None  # build for this target instead of each device's own (same arch needed)
    force: bool = False  # send the bundle even when the device's copy is intact


@dataclass
class Outcome:
    device: str
    ok: bool
    deployed: Deployed | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    stored: Path | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def bundles_for(project: Project, devices: list[Device], artifact: Artifact, say=print,
                progress: Progress = SILENT) -> dict[str, LocalBundle]:
    """device name -> local bundle; builds (cached) once per target when no bundle folder is given."""
    if artifact.bundle is not None:
        local = LocalBundle.open(artifact.bundle)
        return {d.name: local for d in devices}
    built = {}
    for target in sorted({artifact.target or d.target for d in devices}):
        request = builder.BuildRequest(model=artifact.model, recipe=artifact.recipe, target=target)
        built[target] = LocalBundle.open(builder.build(project, request, say=say, progress=progress).bundle)
    return {d.name: built[artifact.target or d.target] for d in devices}


def deploy_to(project: Project, selector: str, artifact: Artifact, say=print, timeouts: Timeouts = Timeouts(),
              progress: Uploads | None = None) -> list[Outcome]:
    inv = inventory.load(project)
    devices = inv.select(selector)
    local = bundles_for(project, devices, artifact, say)

    def one(device: Device) -> Outcome:
        with connect(inv, device, timeouts) as conn:
            probe = remote.probe(conn)
            with remote.locked(conn, probe.work_dir, "deploy") as lease:
                done = deploy(conn, probe, local[device.name], progress, force=artifact.force)
        return Outcome(device.name, True, deployed=done, extra=_notes(lease))

    return _parallel(devices, one)


def profile_on(project: Project, selector: str, artifact: Artifact, options: AgentOptions = AgentOptions(),
               say=print, timeouts: Timeouts = Timeouts(), agent_script: str | None = None,
               progress: Progress = SILENT) -> list[Outcome]:
    inv = inventory.load(project)
    devices = inv.select(selector)
    local = bundles_for(project, devices, artifact, say, progress)

    def one(device: Device) -> Outcome:
        bundle = local[device.name]
        with connect(inv, device, timeouts) as conn:
            probe = remote.probe(conn)
            if not probe.runtime_site:
                raise DeviceError(f"{device.name}: no TVM runtime on the device (nothing under "
                                  f"{probe.work_dir}/runtime); run `invoke lab.provision {device.name}` first")
            with remote.locked(conn, probe.work_dir, "profile") as lease:
                extra = (ONNX,) if options.baseline else ()
                done = deploy(conn, probe, bundle, uploads(progress, device.name), force=artifact.force, extra=extra)
                base_site = ensure_baseline(project, conn, probe, say) if options.baseline else None
                began = time.monotonic()
                with progress.task(f"{device.name}: profiling {bundle.name} ({options.runs}+ runs)"):
                    agent = run_agent(conn, done.path, probe.runtime_site, options, agent_script, lease, base_site,
                                      probe.cores)
        result = _result(device, bundle, probe, agent, time.monotonic() - began, options)
        stored = results.store(project, result)
        results_history.record(project, [from_profile(result, here())], say)
        return Outcome(device.name, bool(agent.get("ok")), deployed=done, result=result, stored=stored,
                       error=agent.get("error"), extra=_notes(lease))

    return _parallel(devices, one)


def profile_models(project: Project, selector: str, artifact: Artifact, options: AgentOptions = AgentOptions(),
                   say=print, timeouts: Timeouts = Timeouts(), progress: Progress = SILENT) -> list[Outcome]:
    """profile_on for each model of `artifact.model`: a comma list, where `corpus` stands for every corpus
    model. Of a list, a model that does not build is one failed outcome per device; the others still run."""
    models = corpus.expand(project.root, tuple(m for m in artifact.model.split(",") if m))
    if len(models) <= 1:
        return profile_on(project, selector, artifact, options, say, timeouts, progress=progress)
    if artifact.bundle is not None:
        raise UsageError(f"--bundle profiles one bundle; --model={artifact.model} names {len(models)} models")
    outcomes = []
    for model in models:
        try:
            outcomes += profile_on(project, selector, replace(artifact, model=model), options, say, timeouts,
                                   progress=progress)
        except EdgebuildError as exc:
            outcomes += [Outcome(d.name, False, error=f"{model}: {exc}") for d in inventory.load(project).select(selector)]
    return outcomes


# The keys of a profile result (DESIGN.md contract), in order; `profile --json` prints them for every device.
RESULT_KEYS = tuple(PROFILE_RESULT_FIELDS)


def profile_json(outcome: Outcome) -> dict:
    """A device's profile result; one that failed before it was timed gets the same keys, null but for
    device, ok and error (one schema for every line of `profile --json`)."""
    if outcome.result is not None:
        return outcome.result
    return {**dict.fromkeys(RESULT_KEYS), "device": outcome.device, "ok": False, "error": outcome.error}


def _result(device: Device, bundle: LocalBundle, probe: remote.Probe, agent: dict, seconds: float,
            options: AgentOptions) -> dict:
    m = bundle.manifest
    judged = validity.judge(agent, options.min_seconds)
    base = agent.get("baseline")
    if base:  # the peer's figures from the same job; the ratio is TVM's p50 over ONNX Runtime's
        figures = validity.latency(base.pop("times_ms")) if base.get("ok") and base.get("times_ms") else None
        ours, theirs = agent.get("model_rss_bytes"), base.get("model_rss_bytes")
        base.update(latency_ms=figures, ratio=(judged["latency_ms"]["p50"] / figures["p50"])
                    if figures and judged["latency_ms"] else None, emulated=device.emulated,
                    memory_ratio=ours / theirs if ours and theirs and theirs > 0 else None)
    return {
        "schema": PROFILE_RESULT_VERSION, "device": device.name, "target": m["target"]["name"],
        "model": m["model"]["name"],
        "recipe": m["recipe"]["name"], "bundle_sha256": bundle.sha256, "emulated": device.emulated,
        # what runs the code when emulated (the CPU model below is then the emulating host's)
        "emulator": device.description if device.emulated else None,
        "ok": bool(agent.get("ok")), "error": agent.get("error"),
        "machine": agent.get("machine"), "cpu_model": probe.cpu_model, "python": agent.get("python"),
        "runtime": agent.get("runtime"), **judged, "load_ms": agent.get("load_ms"),
        "import_ms": agent.get("import_ms"), "peak_rss_bytes": agent.get("peak_rss_bytes"),
        "model_rss_bytes": agent.get("model_rss_bytes"), "gpu": jetson.gpu_summary(agent),
        **{k: agent.get(k) for k in ("parity_max_abs_diff", "parity_tolerance", "parity_inputs", "parity_inputs_within")},
        "baseline": agent.get("baseline"), "agent_seconds": round(seconds, 3), "time": results.now(),
    }


def _notes(lease: remote.Lease) -> dict[str, Any]:
    note = lease.takeover_note()
    return {"lock": note} if note else {}


def _parallel(devices: list[Device], fn: Callable[[Device], Outcome]) -> list[Outcome]:
    def guarded(device: Device) -> Outcome:
        began = time.monotonic()
        try:
            outcome = fn(device)
        except Exception as exc:  # one device's failure, whatever it is, never costs another's result
            outcome = Outcome(device.name, False, error=classify(device, exc))
        outcome.seconds = time.monotonic() - began
        return outcome

    if len(devices) == 1:
        return [guarded(devices[0])]
    with ThreadPoolExecutor(max_workers=min(8, len(devices))) as pool:
        return list(pool.map(guarded, devices))


def classify(device: Device, exc: Exception) -> str:
    """One line that says what failed: our own errors as they are, a broken link, a local I/O error,
    or a bug (named as one, so it is reported rather than mistaken for the device's fault)."""
    if isinstance(exc, EdgebuildError):
        return str(exc)
    if isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError, TimeoutError)):
        return str(link_lost(device, exc))
    if isinstance(exc, OSError) and str(exc) == "Socket is closed":  # paramiko's word for a channel that went away
        return str(link_lost(device, exc))
    if isinstance(exc, OSError) and exc.errno is None:  # an SFTP status: the device refused the operation
        return (f"{device.name}: the device refused a file operation: {exc} (is its disk full, or its work dir "
                f"not writable?)")
    if isinstance(exc, OSError) and exc.filename is None:
        return str(link_lost(device, exc))
    if isinstance(exc, OSError):
        return f"{device.name}: I/O error on this host: {exc}"
    return (f"{device.name}: internal error {type(exc).__name__}: {exc} (a bug in edgebuild; please report it; "
            f"other devices' results are unaffected)")
