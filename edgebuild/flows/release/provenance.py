"""SLSA v1 provenance, one in-toto Statement per released bundle.

subject: the bundle's files (paths inside dist/<version>/) and their sha256. buildDefinition: what
decides the bytes (model, recipe file, target file, tuning records, calibration, toolchain, the
edgebuild commit) and everything `release.verify --rebuild` needs to build the cell again.
runDetails: which host built it, and when.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ... import compress, targets
from ...models.base import sha256_file
from ...project import Project
from .matrix import Cell

STATEMENT = "https://in-toto.io/Statement/v1"
PREDICATE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:edgebuild:release-build:v1"


def statement(project: Project, cell: Cell, manifest: dict, files: dict[str, dict], built: dict[str, Any],
              source: dict[str, Any], version: str, plan: str) -> dict:
    """`files`: path in the release -> {sha256, bytes}, for this bundle's files."""
    return {
        "_type": STATEMENT,
        "subject": [{"name": name, "digest": {"sha256": e["sha256"]}} for name, e in sorted(files.items())],
        "predicateType": PREDICATE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"plan": plan, "version": version, "model": cell.label,
                                       "model_spec": _model_spec(project, cell),
                                       "recipe": cell.recipe, "target": cell.target,
                                       "input_shapes": list(cell.input_shapes), "calibration": _calibration(project, cell)},
                "internalParameters": {"cache_key": manifest["cache_key"], "tvm_target": manifest["target"]["tvm"],
                                       "toolchain": {k: v for k, v in manifest["toolchain"].items() if k != "build_host"}},
                "resolvedDependencies": _dependencies(project, cell, manifest, source),
            },
            "runDetails": {
                "builder": {"id": f"urn:edgebuild:build-host:{built['host']}"},
                "metadata": {"invocationId": f"{version}/{cell.key}", "startedOn": _time(built["started"]),
                             "finishedOn": _time(built["finished"]),
                             "cached": built["cached"]},
            },
        },
    }


def _dependencies(project: Project, cell: Cell, manifest: dict, source: dict) -> list[dict]:
    root = project.root
    model = manifest["model"]
    deps = [{"uri": f"edgebuild:model/{model['name']}", "digest": {"sha256": model["sha256"]},
             "annotations": {"kind": model["kind"]}}]
    for path in (compress.folder(project).path(cell.recipe), targets.folder(project).path(cell.target)):
        deps.append({"uri": f"file:{path.relative_to(root)}", "digest": {"sha256": sha256_file(path)}})
    tuning = project.tuning_dir / cell.target
    for path in sorted(p for p in tuning.rglob("*") if p.is_file()) if tuning.is_dir() else ():
        deps.append({"uri": f"file:{path.relative_to(root)}", "digest": {"sha256": sha256_file(path)}})
    if cell.calibration and cell.calibration != "random":
        path = Path(cell.calibration)
        deps.append({"uri": f"file:{path.relative_to(root)}", "digest": {"sha256": sha256_file(path)}})
    deps.append({"uri": "git+file:" + source["project"]["path"], "digest": {"gitCommit": source["project"]["commit"]}})
    edge = source["edgebuild"]
    deps.append({"uri": "edgebuild", "digest": {"gitCommit": edge["commit"]} if edge.get("commit") else {},
                 "annotations": edge})
    return deps


def _model_spec(project: Project, cell: Cell) -> str:
    path = Path(cell.model)
    return str(path.relative_to(project.root)) if path.is_absolute() else cell.model


def _calibration(project: Project, cell: Cell) -> str | None:
    if cell.calibration and cell.calibration != "random":
        return str(Path(cell.calibration).relative_to(project.root))
    return cell.calibration


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def subjects(stmt: dict) -> dict[str, str]:
    return {s["name"]: s["digest"]["sha256"] for s in stmt["subject"]}


def rebuild_request(stmt: dict) -> dict:
    """The cell's build parameters, as recorded."""
    return stmt["predicate"]["buildDefinition"]["externalParameters"]
