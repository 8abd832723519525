"""`invoke release --plan=NAME --version=X`: build, profile and gate a plan's matrix into dist/X/.

Builds run as Dask tasks (matrix.py); as each bundle arrives it is checked by hash, staged, and
its side-by-side comparisons with the previous release's bundle are queued on the boards of its
target, so builds and profiles overlap. A regression past the plan's thresholds refuses the
release (nothing enters dist/) unless --allow accepts that cell with a reason.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ... import bundle
from ...errors import DeviceError, ReleaseRefused, UsageError
from ...lab import inventory
from ...lab.inventory import Device, Inventory
from ...lab.results import now
from ...lab.transport import Timeouts, connect
from ...project import Project
from ...schema import dump
from . import cluster, compare, dist, gates, matrix, plan as plans, provenance, records, source, summary, verify
from .matrix import Cell

Say = Callable[[str], None]


@dataclass(frozen=True)
class ReleaseRequest:
    plan: str
    version: str
    previous: Path | None = None  # default: the newest release in dist/
    allow: tuple[str, ...] = ()  # MODEL:RECIPE:TARGET:REASON
    scheduler: str | None = None  # tls://HOST:PORT of a running Dask scheduler
    workers: int = 0  # LocalCluster build workers (default: one per core)
    no_profile: tuple[str, ...] = ()  # targets released without profiles when no device is reachable


def cells_of(project: Project, plan: plans.Plan) -> list[Cell]:
    labels = plan.labels()

    def calibration(model: str) -> str | None:
        source = plan.calibration.get(model)
        return str((project.root / source).resolve()) if source and source != "random" else source

    return [Cell(labels[m], plans.model_path(project, m), r, t, tuple(plan.input_shapes.get(m, ())), calibration(m))
            for m in plan.models for r in plan.recipes for t in plan.targets]


def parse_allows(values: tuple[str, ...], cells: list[Cell]) -> dict[str, str]:
    keys, out = {c.key for c in cells}, {}
    for value in values:
        parts = value.split(":", 3)
        if len(parts) != 4 or not parts[3].strip():
            raise UsageError(f"--allow={value!r}: give MODEL:RECIPE:TARGET:REASON (the reason goes into the "
                             f"release manifest and changelog)")
        key = ":".join(parts[:3])
        if key not in keys:
            raise UsageError(f"--allow={value!r}: {key} is not a cell of this plan; cells: {', '.join(sorted(keys))}")
        out[key] = parts[3].strip()
    return out


def profiling_boards(inv: Inventory, plan: plans.Plan, no_profile: tuple[str, ...]) -> tuple[dict, dict]:
    """target -> reachable devices; target -> why it is released without profiles."""
    unknown = sorted(set(no_profile) - set(plan.targets))
    if unknown:
        raise UsageError(f"--no-profile={unknown[0]}: not a target of plan {plan.name!r} ({', '.join(plan.targets)})")
    boards, skipped = {}, {}
    for target in plan.targets:
        if target not in plan.devices:
            skipped[target] = f"plan {plan.name!r} lists no devices for target {target}"
            continue
        if target in no_profile:
            skipped[target] = "--no-profile"
            continue
        devices = sorted({d.name: d for sel in plan.devices[target] for d in inv.select(sel)}.values(), key=lambda d: d.name)
        reachable, why = [], []
        for device in devices:
            if device.target != target:
                why.append(f"{device.name} is a {device.target} device")
                continue
            try:
                with connect(inv, device, Timeouts(connect=5, banner=10, auth=10)):
                    reachable.append(device.name)
            except DeviceError as exc:
                why.append(str(exc))
        if not reachable:
            raise ReleaseRefused(f"no reachable device profiles target {target}: " + "; ".join(why)
                                 + f". Start or fix them, or release it unprofiled with --no-profile={target}")
        boards[target] = reachable
    return boards, skipped


def release(project: Project, request: ReleaseRequest, say: Say = print) -> Path:
    plan = plans.load(project, request.plan)
    src = {"project": source.project_source(project.root), "edgebuild": source.edgebuild_source()}
    dist_dir = project.root / "dist"
    out = dist.target_folder(dist_dir, request.version)
    previous = (request.previous or dist.newest(dist_dir))
    old = dist.read_manifest(previous) if previous else None
    if old is not None:  # gating against a tampered release would be worse than no gate
        problems = verify.check_files(previous, old)
        if problems:
            raise ReleaseRefused(f"the previous release {previous} does not verify; give another with --previous:\n  "
                                 + "\n  ".join(problems))
    cells = cells_of(project, plan)
    allows = parse_allows(request.allow, cells)
    inv = inventory.load(project)
    boards, skipped = profiling_boards(inv, plan, request.no_profile)
    hosts = _build_hosts(inv, plan)
    say(f"release {request.version}: plan {plan.name}, {len(cells)} cells, previous: "
        + (old["version"] if old else "none (first release: no gates)"))
    began = time.time()
    with dist.staged(out) as tmp:
        with cluster.open_cluster(inv, boards=sorted({b for bs in boards.values() for b in bs}),
                                  scheduler=request.scheduler, workers=request.workers, build_hosts=hosts,
                                  say=say) as client:
            built, comparisons, tasks = _run_matrix(project, client, cells, boards, plan, tmp, previous, old, say)
        elsewhere = sorted(f"{k} (built from {b['commit']} on {b['host']})" for k, b in built.items()
                           if b["commit"] != src["project"]["commit"])
        if elsewhere:
            raise ReleaseRefused(f"bundles were built from another commit than {src['project']['commit']}; check "
                                 f"out the same commit on every build host:\n  " + "\n  ".join(elsewhere))
        checks, refused = _gate(cells, built, comparisons, old, previous, plan, allows)
        if refused:
            raise ReleaseRefused(f"release {request.version} refused: {len(refused)} cell(s) regressed past the "
                                 f"thresholds of releases/{plan.name}.toml (nothing was written to dist/):\n"
                                 + gates.table(refused) + "\nAccept one with --allow=MODEL:RECIPE:TARGET:REASON")
        manifest = _write(project, tmp, request, plan, cells, built, comparisons, checks, allows, skipped, src,
                          old, began, tasks)
        summary.write_report(project, tmp, manifest, old)
        summary.write_changelog(tmp, manifest, old)
        manifest["files"] = dist.file_entries(tmp)
        dist.write_json(tmp / dist.MANIFEST, manifest)
    say(f"released {out}: {len(cells)} bundles, {len(manifest['files'])} files")
    return out


def _build_hosts(inv: Inventory, plan: plans.Plan) -> list[Device]:
    return sorted({d.name: d for sel in plan.build_hosts for d in inv.select(sel)}.values(), key=lambda d: d.name)


def _run_matrix(project, client, cells, boards, plan, tmp: Path, previous: Path | None, old: dict | None, say):
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    pending = as_completed()
    for cell in cells:
        pending.add(client.submit(matrix.build_cell, str(project.root), cell, resources={matrix.BUILD: 1},
                                  key=f"build-{cell.key}-{run}", pure=False))
    built, comparisons, failures, tasks = {}, {c.key: [] for c in cells}, [], []
    old_cells = {c["key"]: c for c in (old or {}).get("cells", [])}
    for future in pending:
        value = future.result()
        if "device" not in value:  # a build (comparisons name their device, failed ones too)
            cell = value["cell"]
            if "error" in value:
                failures.append(f"{cell.key}: {value['error']}")
                continue
            manifest = matrix.receive(value, tmp / cell.path)
            built[cell.key] = {"manifest": manifest, **{k: value[k] for k in ("host", "started", "finished", "cached", "commit")}}
            tasks.append({"task": f"build {cell.key}", "host": value["host"], "started": value["started"],
                          "finished": value["finished"], "cached": value["cached"]})
            say(f"  built {cell.key} on {value['host']}" + (" (cached)" if value["cached"] else "")
                + f" in {value['finished'] - value['started']:.1f} s")
            pair = {"new": str(tmp / cell.path)}
            prior = old_cells.get(cell.key)
            if prior:
                pair["previous"] = str(previous / prior["path"])
            new_sha = matrix.bundle_digest(tmp / cell.path)
            prev_sha = matrix.bundle_digest(previous / prior["path"]) if prior else None
            for device in boards.get(cell.target, []):
                kept = records.stored(project, device, new_sha, prev_sha, plan.profiling)
                if kept:
                    comparisons[cell.key].append(kept)
                    say(f"  profile {cell.key} @{device}: already in results (resumed)")
                    continue
                pending.add(client.submit(_compare_job, str(project.root), device, pair, plan.profiling, cell.key,
                                          resources={matrix.board(device): 1}, key=f"compare-{cell.key}-{device}-{run}",
                                          pure=False))
        else:  # a comparison
            if value.get("error"):
                failures.append(f"{value['cell']} @{value['device']}: {value['error']}")
                continue
            records.store(project, value["result"], plan.profiling)
            comparisons[value["cell"]].append(value["result"])
            tasks.append({"task": f"profile {value['cell']} @{value['device']}", "host": "lab",
                          "started": value["started"], "finished": value["finished"], "cached": False})
            got = compare.ratios(value["result"])
            say(f"  profiled {value['cell']} @{value['device']}: p50 "
                f"{value['result']['bundles']['new']['latency_ms']['p50']:.3f} ms"
                + (f", {got['latency']:.3f}x the previous release" if got["latency"] else ""))
    if failures:
        raise ReleaseRefused("release refused: " + "\n  ".join(["some cells failed:", *failures]))
    return built, comparisons, tasks


def _compare_job(root: str, device: str, pair: dict, profiling, cell: str) -> dict:
    """Runs on the lab worker; device errors come back as values so every failure is reported."""
    started = time.time()
    try:
        result = compare.compare_on(root, device, pair, profiling)
    except DeviceError as exc:
        return {"cell": cell, "device": device, "error": str(exc)}
    return {"cell": cell, "device": device, "result": result, "started": started, "finished": time.time()}


def _gate(cells, built, comparisons, old, previous, plan, allows):
    if old is None:
        return [], []
    old_cells = {c["key"]: c for c in old.get("cells", [])}
    checks, refused = [], []
    for cell in cells:
        prior = old_cells.get(cell.key)
        if not prior:
            continue
        prev_manifest = bundle.read_manifest(previous / prior["path"])
        rows = gates.evaluate(cell.key, built[cell.key]["manifest"], prev_manifest, comparisons[cell.key],
                              plan.thresholds)
        checks.extend(rows)
        failed = [r for r in rows if not r.passed]
        if failed and cell.key not in allows:
            refused.extend(failed)
    bad = [p for cell in cells for p in gates.parity_failures(cell.key, comparisons[cell.key])]
    if bad:
        raise ReleaseRefused("release refused: on-device parity failed:\n  " + "\n  ".join(bad))
    return checks, refused


def _write(project, tmp, request, plan, cells, built, comparisons, checks, allows, skipped, src, old, began, tasks):
    provenance_files = {}
    for cell in cells:
        files = {k: v for k, v in dist.file_entries(tmp).items() if k.startswith(cell.path + "/")}
        stmt = provenance.statement(project, cell, built[cell.key]["manifest"], files, built[cell.key], src,
                                    request.version, plan.name)
        path = f"provenance/{cell.label}--{cell.recipe}--{cell.target}.intoto.json"
        dist.write_json(tmp / path, stmt)
        provenance_files[cell.key] = path
    plan_file = plans.folder(project).path(plan.name)
    failed_allowed = {c.cell for c in checks if not c.passed}
    return {
        "schema": dist.RELEASE_SCHEMA_VERSION,
        "version": request.version,
        "created": now(),
        "plan": {"name": plan.name, "file": str(plan_file.relative_to(project.root)),
                 "sha256": provenance.sha256_file(plan_file), "thresholds": dump(plan.thresholds)},
        "source": src,
        "previous": old["version"] if old else None,
        "gates": "first release: no previous release, no gates" if old is None else f"against {old['version']}",
        "allowed": [{"cell": k, "reason": v, "regressed": k in failed_allowed} for k, v in sorted(allows.items())],
        "profiles_skipped": skipped,
        "cells": [{"key": c.key, "model": c.label, "recipe": c.recipe, "target": c.target, "path": c.path,
                   "bundle_sha256": matrix.bundle_digest(tmp / c.path), "provenance": provenance_files[c.key],
                   "metrics": built[c.key]["manifest"]["metrics"], "profiles": comparisons[c.key],
                   "gates": [g.to_json() for g in checks if g.cell == c.key]} for c in cells],
        "matrix": {"wall_s": round(time.time() - began, 2), "tasks": tasks},
    }
