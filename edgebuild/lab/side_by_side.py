"""Bundles timed side by side on one device, in one job under the device's lock.

Absolute times drift between runs (the project measured up to 33% spread between runs and ~5% within
one), so comparisons (a release's new vs previous bundle, a search trial vs its reference) load every
bundle in one process on the device and alternate blocks (device/compare.py); the ratio of their
medians is the figure. The bundles go to a scratch folder in the device's work dir, never the deploy
slots, and are removed again before the lock is released.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from .. import bundle
from ..errors import DeviceError
from ..project import Project
from . import inventory, remote
from .agent_run import run_job
from .device import compare_source
from .results import now
from .transport import connect

SCRATCH = "compare-scratch"
MARKER = "EDGEBUILD-COMPARE "


@dataclass(frozen=True)
class Blocks:
    """How the bundles are timed: alternating blocks of back-to-back runs."""

    blocks: int = 4
    runs: int = 20  # timed runs per block
    warmup: int = 3
    timeout: float = 900.0  # the whole job, TVM import under emulation included


def time_on(project: Project, device_name: str, bundles: dict[str, Path], timing: Blocks, action: str) -> dict:
    """{label: bundle folder} timed on the device; one result dict (per-bundle figures under "bundles").
    `action` is what the device lock says the holder is doing."""
    inv = inventory.load(project)
    device = inv.get(device_name)
    began = time.monotonic()
    with connect(inv, device) as conn:
        probe = remote.probe(conn)
        if not probe.runtime_site:
            raise DeviceError(f"{device.name}: no TVM runtime on the device; run `invoke lab.provision {device.name}`")
        with remote.locked(conn, probe.work_dir, action) as lease:
            scratch = posixpath.join(probe.work_dir, SCRATCH)
            conn.run(f"rm -rf {shlex.quote(scratch)}", timeout=60)
            try:
                for name, folder in bundles.items():
                    conn.run(f"mkdir -p {shlex.quote(posixpath.join(scratch, name))}", timeout=30)
                    for file in [f for f in bundle.DEVICE_FILES if (Path(folder) / f).is_file()]:
                        conn.sftp.put(str(Path(folder) / file), posixpath.join(scratch, name, file))
                argv = [*device.python, "-", scratch, probe.runtime_site, str(timing.blocks),
                        str(timing.runs), str(timing.warmup), *bundles]
                run = run_job(conn, argv, compare_source().encode(), timing.timeout, lease, "the side-by-side timing")
            finally:
                conn.run(f"rm -rf {shlex.quote(scratch)}", timeout=60, check=False)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise DeviceError(f"{device.name}: the side-by-side timing failed (status {run.status}): "
                          f"{(run.stderr.strip() or run.stdout.strip())[-800:]}")
    try:
        data = json.loads(line[len(MARKER):])
        figures = {name: data["bundles"][name] for name in bundles}
    except (ValueError, KeyError, TypeError) as exc:
        raise DeviceError(f"{device.name}: malformed side-by-side result ({type(exc).__name__}: {exc}; got "
                          f"{line[len(MARKER):][:300]!r})") from None
    for name, entry in figures.items():
        manifest = bundle.read_manifest(Path(bundles[name]))
        entry.update(bundle_sha256=bundle.manifest_sha256(Path(bundles[name])), model=manifest["model"]["name"],
                     recipe=manifest["recipe"]["name"])
    return {"device": device.name, "target": device.target, "emulated": device.emulated,
            "emulator": device.description if device.emulated else None, "cpu_model": probe.cpu_model,
            "machine": data.get("machine"), "python": data.get("python"), "runtime": data.get("runtime"),
            "blocks": timing.blocks, "runs_per_block": timing.runs, "bundles": figures,
            "seconds": round(time.monotonic() - began, 2), "time": now()}
