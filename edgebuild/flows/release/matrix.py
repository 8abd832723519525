"""The release matrix as Dask tasks: one build per cell on a build worker, one comparison per board.

Build tasks need the `build` resource (one per build worker, and a build worker per core at most:
builds are CPU-bound). Comparison tasks need `board-NAME` (the lab worker holds one of each), so
a board runs one job at a time while different boards, and builds, run beside it. A build task
returns the bundle's bytes; the release host checks them against the bundle's manifest before
they enter dist/ (a build host may be another machine).
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import bundle
from ...errors import EdgebuildError
from ...models.base import sha256_file
from ...project import Project

BUILD = "build"


@dataclass(frozen=True)
class Cell:
    """One model x recipe x target of a plan."""

    label: str  # the model's folder in dist/
    model: str  # what BuildRequest.model takes
    recipe: str
    target: str
    input_shapes: tuple[str, ...] = ()
    calibration: str | None = None

    @property
    def key(self) -> str:
        return f"{self.label}:{self.recipe}:{self.target}"

    @property
    def path(self) -> str:
        return f"bundles/{self.label}/{self.recipe}/{self.target}"


def board(device: str) -> str:
    """The Dask resource that serialises jobs on one board."""
    return f"board-{device}"


def build_cell(root: str, cell: Cell) -> dict[str, Any]:
    """Runs on a build worker: the cell's bundle (the build cache makes a resumed release cheap)."""
    # One build per core: TVM's and torch's thread pools would otherwise oversubscribe the cores.
    os.environ.setdefault("TVM_NUM_THREADS", "1")
    from .. import build as builder  # TVM and torch load in the worker, not in the release host
    import torch

    torch.set_num_threads(1)

    started = time.time()
    request = builder.BuildRequest(model=cell.model, recipe=cell.recipe, target=cell.target,
                                   input_shapes=cell.input_shapes, calibration=cell.calibration)
    log = io.StringIO()
    try:
        result = builder.build(Project(Path(root)), request, say=lambda s: print(s, file=log))
    except EdgebuildError as exc:  # travels back as a value: the release host reports every failed cell
        return {"cell": cell, "error": str(exc), "log": log.getvalue()}
    files = {p.name: p.read_bytes() for p in sorted(result.bundle.iterdir()) if p.is_file()}
    return {"cell": cell, "files": files, "cached": result.cached, "host": socket.gethostname(),
            "commit": _commit(Path(root)), "started": started, "finished": time.time(), "log": log.getvalue()}


def _commit(root: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or None


def receive(built: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write a built bundle into `folder` after checking every file against its manifest; the manifest."""
    import json

    manifest = json.loads(built["files"][bundle.MANIFEST])
    names = set(built["files"]) - {bundle.MANIFEST}
    if names != set(manifest["files"]):
        raise EdgebuildError(f"{built['cell'].key}: the build host sent files {sorted(names)}, its manifest "
                             f"lists {sorted(manifest['files'])}")
    folder.mkdir(parents=True)
    for name, data in built["files"].items():
        (folder / name).write_bytes(data)
    if not bundle.intact(folder, manifest):
        raise EdgebuildError(f"{built['cell'].key}: files from build host {built['host']} do not match the "
                             f"sha256 and sizes in their manifest; nothing enters dist/")
    return manifest


def lab_worker(address: str, boards: list[str], security_args: list[str]) -> subprocess.Popen:
    """A worker process on the release host holding one `board-NAME` resource per board."""
    resources = " ".join(f"{board(b)}=1" for b in boards)
    argv = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", "lab", "--nthreads",
            str(max(1, len(boards))), "--resources", resources, "--no-dashboard", "--no-nanny",
            "--death-timeout", "120",  # gone with the release host (a killed release leaves no worker behind)
            *security_args]
    import dask

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_package_root()), os.environ.get("PYTHONPATH")])),
           # this process's Dask settings (timeouts), as SSHCluster passes them to remote processes
           "DASK_INTERNAL_INHERIT_CONFIG": dask.config.serialize(dask.config.global_config)}
    log = tempfile.TemporaryFile()  # a pipe nobody reads would fill up and stall the worker
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    return proc


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _package_root() -> Path:
    """The folder holding this edgebuild package, so workers import the same code as the release host."""
    return Path(__file__).resolve().parents[3]


def bundle_digest(folder: Path) -> str:
    return sha256_file(folder / bundle.MANIFEST)
