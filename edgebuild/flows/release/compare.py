"""One board, one job: the new bundle and the previous release's, timed side by side.

Runs on the lab worker (it holds the board's Dask resource) and under the device's own lock.
The bundles go to a scratch folder in the device's work dir (not the deploy slots, which hold
one bundle per model x recipe x target), and device/compare.py times them in one process.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import time
from pathlib import Path

from ... import bundle
from ...errors import DeviceError
from ...lab import inventory, remote
from ...lab.device import compare_source
from ...lab.results import now
from ...lab.transport import connect
from ...project import Project
from .plan import Profiling

SCRATCH = "release-scratch"
MARKER = "EDGEBUILD-COMPARE "


def compare_on(root: str, device_name: str, bundles: dict[str, str], profiling: Profiling) -> dict:
    """{"new": folder, "previous": folder (optional)} timed on the device; one result dict."""
    project = Project(Path(root))
    inv = inventory.load(project)
    device = inv.get(device_name)
    began = time.monotonic()
    with connect(inv, device) as conn:
        probe = remote.probe(conn)
        if not probe.runtime_site:
            raise DeviceError(f"{device.name}: no TVM runtime on the device; run `invoke lab.provision {device.name}`")
        with remote.locked(conn, probe.work_dir, "release comparison"):
            scratch = posixpath.join(probe.work_dir, SCRATCH)
            conn.run(f"rm -rf {shlex.quote(scratch)}", timeout=60)
            for name, folder in bundles.items():
                conn.run(f"mkdir -p {shlex.quote(posixpath.join(scratch, name))}", timeout=30)
                for file in [f for f in bundle.DEVICE_FILES if (Path(folder) / f).is_file()]:  # weights: schema >= 3
                    conn.sftp.put(str(Path(folder) / file), posixpath.join(scratch, name, file))
            argv = [*device.python, "-", scratch, probe.runtime_site, str(profiling.blocks), str(profiling.runs),
                    str(profiling.warmup), *bundles]
            command = f"exec timeout -s KILL {int(profiling.timeout)} " + " ".join(shlex.quote(a) for a in argv)
            run = conn.run(command, timeout=profiling.timeout + 10, stdin=compare_source().encode(), check=False)
            conn.run(f"rm -rf {shlex.quote(scratch)}", timeout=60, check=False)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise DeviceError(f"{device.name}: the side-by-side timing failed (status {run.status}): "
                          f"{(run.stderr.strip() or run.stdout.strip())[-800:]}")
    data = json.loads(line[len(MARKER):])
    for name, entry in data["bundles"].items():
        manifest = bundle.read_manifest(Path(bundles[name]))
        entry.update(bundle_sha256=bundle.manifest_sha256(Path(bundles[name])), model=manifest["model"]["name"],
                     recipe=manifest["recipe"]["name"])
    return {"device": device.name, "target": device.target, "emulated": device.emulated,
            "emulator": device.description if device.emulated else None, "cpu_model": probe.cpu_model,
            "machine": data["machine"], "python": data["python"], "runtime": data["runtime"],
            "blocks": profiling.blocks, "runs_per_block": profiling.runs, "bundles": data["bundles"],
            "seconds": round(time.monotonic() - began, 2), "time": now()}


def ratios(result: dict) -> dict[str, float | None]:
    """new / previous: latency (ratio of medians), memory; None without a previous bundle."""
    new, old = result["bundles"]["new"], result["bundles"].get("previous")
    if old is None:
        return {"latency": None, "memory": None}
    memory = (new["memory_bytes"] / old["memory_bytes"]) if old["memory_bytes"] > 0 else None
    return {"latency": new["latency_ms"]["p50"] / old["latency_ms"]["p50"], "memory": memory}
