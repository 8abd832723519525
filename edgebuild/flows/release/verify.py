"""`invoke release.verify dist/X`: the folder is exactly what its release manifest lists, each
provenance statement's subjects are its bundle's files, and (with --rebuild) a rebuild from the
provenance gives the same model.so, model.weights and model.onnx, byte for byte.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ... import bundle
from ...errors import VerifyFailed
from ...project import Project
from . import dist, provenance

Say = Callable[[str], None]
# Files a rebuild must reproduce exactly.
EXACT = (bundle.SO, bundle.WEIGHTS, bundle.ONNX)  # model.weights: main's constants (schema 3)
# Manifest fields a rebuild may change, and why.
MAY_DIFFER = {
    "timings_s": "wall time of each build stage",
    "toolchain.build_host": "the machine that built it",
    "model.source": "where the model file was on the building machine",
    "metrics.max_abs_diff_vs_onnxruntime": "ONNX Runtime's own result may vary with the host's threads and CPU",
    "metrics.onnxruntime_parity_inputs_within": "as max_abs_diff_vs_onnxruntime, on each input checked",
    "cache_key": "hashes the edgebuild source tree; equal only for the same checkout",
    "kernels.per_kernel": "each kernel's measured share of one run's time on the building machine",
}


@dataclass
class Verified:
    folder: Path
    files: int
    bundles: int
    rebuilt: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.folder}: OK: {self.files} files match release.json; {self.bundles} provenance statements "
                 f"match their bundles"]
        if self.rebuilt:
            lines.append(f"rebuilt {len(self.rebuilt)} bundles: {', '.join(EXACT)} identical")
        return "\n".join(lines + [f"  {n}" for n in self.notes])


def verify(folder: Path, project: Project | None = None, rebuild: bool = False, public_key: Path | None = None,
           say: Say = print) -> Verified:
    folder = folder.resolve()
    manifest = dist.read_manifest(folder)
    problems = check_files(folder, manifest)
    statements = {}
    for cell in manifest.get("cells", []):
        try:
            statements[cell["key"]] = json.loads((folder / cell["provenance"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{cell['provenance']}: cannot read: {exc}")
            continue
        problems += check_cell(folder, manifest, cell, statements[cell["key"]])
    if problems:
        raise VerifyFailed(f"{folder} does not verify:\n  " + "\n  ".join(problems))
    done = Verified(folder, len(manifest["files"]), len(statements))
    if public_key is not None:
        from .signing import verify_signature

        verify_signature(folder, public_key)
        done.notes.append(f"release.sig verifies with {public_key}")
    if rebuild:
        _rebuild(folder, manifest, statements, project, done, say)
    return done


def check_files(folder: Path, manifest: dict) -> list[str]:
    listed, found = manifest.get("files", {}), dist.file_entries(folder)
    problems = [f"added: {p} (not in release.json)" for p in sorted(set(found) - set(listed))]
    problems += [f"removed: {p}" for p in sorted(set(listed) - set(found))]
    for path in sorted(set(found) & set(listed)):
        if found[path] != listed[path]:
            problems.append(f"changed: {path} (sha256 {found[path]['sha256'][:16]}, {found[path]['bytes']} bytes; "
                            f"release.json says {listed[path]['sha256'][:16]}, {listed[path]['bytes']} bytes)")
    return problems


def check_cell(folder: Path, manifest: dict, cell: dict, stmt: dict) -> list[str]:
    prefix = cell["path"] + "/"
    listed = {k: v["sha256"] for k, v in manifest["files"].items() if k.startswith(prefix)}
    problems = []
    if provenance.subjects(stmt) != listed:
        problems.append(f"{cell['provenance']}: subjects differ from release.json's files under {prefix}")
    try:
        own = json.loads((folder / cell["path"] / bundle.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return problems + [f"{prefix}{bundle.MANIFEST}: missing or not JSON"]
    mine = {prefix + k: v["sha256"] for k, v in own.get("files", {}).items()}
    if mine != {k: v for k, v in listed.items() if not k.endswith("/" + bundle.MANIFEST)}:
        problems.append(f"{prefix}{bundle.MANIFEST}: its files differ from release.json's")
    return problems


def _rebuild(folder: Path, manifest: dict, statements: dict, project: Project | None, done: Verified, say: Say):
    from .. import build as builder

    project = project or Project.find()
    commit = manifest["source"]["project"]["commit"]
    head = _head(project.root)
    if head != commit:
        done.notes.append(f"note: rebuilding with commit {head}, the release names {commit}")
    problems = []
    with tempfile.TemporaryDirectory(prefix="edgebuild-rebuild-") as scratch:
        for cell in manifest["cells"]:
            params = provenance.rebuild_request(statements[cell["key"]])
            spec = params["model_spec"]
            model = str(project.root / spec) if spec.endswith(".onnx") else spec
            calibration = params["calibration"]
            if calibration and calibration != "random":
                calibration = str(project.root / calibration)
            out = Path(scratch) / cell["key"].replace(":", "--")
            say(f"rebuilding {cell['key']}")
            builder.build(project, builder.BuildRequest(model=model, recipe=params["recipe"], target=params["target"],
                                                        input_shapes=tuple(params["input_shapes"]),
                                                        calibration=calibration, out=out), say=lambda s: None)
            released = folder / cell["path"]
            for name in EXACT:
                if (out / name).read_bytes() != (released / name).read_bytes():
                    problems.append(f"{cell['key']}: {name} differs from the released bytes")
            for name in sorted(set(bundle.file_entries(out)) - set(EXACT)):
                if (out / name).read_bytes() != (released / name).read_bytes():
                    done.notes.append(f"{cell['key']}: {name} differs (not required to match)")
            for key in _manifest_diff(json.loads((out / bundle.MANIFEST).read_text()),
                                      json.loads((released / bundle.MANIFEST).read_text())):
                if key in MAY_DIFFER:
                    done.notes.append(f"{cell['key']}: manifest {key} differs: {MAY_DIFFER[key]}")
                elif not key.startswith("files."):
                    problems.append(f"{cell['key']}: manifest field {key} differs")
            done.rebuilt.append(cell["key"])
    if problems:
        raise VerifyFailed(f"{folder}: the rebuild does not reproduce the release:\n  " + "\n  ".join(problems))


def _manifest_diff(a, b, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ; a named field (MAY_DIFFER) is reported as a whole."""
    if prefix.rstrip(".") in MAY_DIFFER or not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [prefix.rstrip(".")]
    return [k for key in sorted(set(a) | set(b)) for k in _manifest_diff(a.get(key), b.get(key), f"{prefix}{key}.")]


def _head(root: Path) -> str | None:
    import subprocess

    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None
