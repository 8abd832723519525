"""`invoke lab.provision DEVICE`: ship the TVM runtime-only bundle; devices need only python3.

The device's Python says what it is; Python < 3.10 and arches without runtime wheels (armv7l) are
refused with a clear message. An unchanged runtime (same sha256 id) is not sent again.
"""

from __future__ import annotations

import posixpath
import shlex
import time
from dataclasses import dataclass
from typing import Callable

from .. import targets
from ..errors import DeviceError
from ..project import Project
from . import inventory, remote, runtime
from .transport import LINK_ERRORS, Connection, Timeouts, connect, link_lost


@dataclass(frozen=True)
class Provisioned:
    device: str
    runtime_id: str
    sent_bytes: int  # 0 when the device already had this runtime
    seconds: float
    machine: str
    python: str

    def summary(self) -> str:
        what = "up to date, nothing sent" if not self.sent_bytes else f"sent {self.sent_bytes:,} bytes"
        return (f"{self.device}: TVM runtime {self.runtime_id[:12]} ({self.machine}, Python {self.python}): "
                f"{what} in {self.seconds:.1f} s")


def provision(project: Project, device_name: str, say=print, timeouts: Timeouts = Timeouts(),
              progress: Callable[[str, int, int], None] | None = None) -> Provisioned:
    """Ship the runtime when the device lacks it; `progress(path, bytes done, total)` follows the upload."""
    inv = inventory.load(project)
    device = inv.get(device_name)
    began = time.monotonic()
    with connect(inv, device, timeouts) as conn:
        probe = remote.probe(conn)
        _check_arch(project, device, probe)
        runtime.check_supported(probe.machine, probe.python, device.name)
        kind = runtime.kind_for(targets.load(project, device.target))
        bundle = runtime.prepare(project, probe.machine, probe.python, say, kind=kind)
        if probe.runtime and probe.runtime.get("id") == bundle.id and probe.runtime.get("present"):
            return Provisioned(device.name, bundle.id, 0, time.monotonic() - began, probe.machine, probe.python_version)
        need = bundle.archive.stat().st_size + bundle.unpacked_bytes
        if probe.free_bytes < need:
            raise DeviceError(f"{device.name}: {probe.work_dir} has {probe.free_bytes:,} bytes free; the runtime "
                              f"needs {need:,}. Free space or set the device's work-dir elsewhere")
        try:
            with remote.locked(conn, probe.work_dir, "provision"):
                sent = upload_runtime(conn, probe.work_dir, bundle, say, progress)
        except LINK_ERRORS as exc:
            raise link_lost(device, exc) from None
    return Provisioned(device.name, bundle.id, sent, time.monotonic() - began, probe.machine, probe.python_version)


def ensure_baseline(project: Project, conn: Connection, probe: remote.Probe, say) -> str:
    """The site folder of ONNX Runtime's device wheel on the device, sent first when missing or changed.
    The caller holds the device's lock."""
    bundle = runtime.prepare(project, probe.machine, probe.python, say, kind="onnxruntime")
    current = (probe.baselines or {}).get("onnxruntime") or {}
    if current.get("id") != bundle.id or not current.get("present"):
        upload_runtime(conn, probe.work_dir, bundle, say)
    return posixpath.join(probe.work_dir, runtime.FOLDERS["onnxruntime"], bundle.id, "site")


def upload_runtime(conn: Connection, work: str, bundle: runtime.RuntimeBundle, say,
                   progress: Callable[[str, int, int], None] | None = None) -> int:
    folder = posixpath.join(work, runtime.FOLDERS[bundle.kind])
    conn.run(f"mkdir -p {shlex.quote(folder)}", timeout=30)
    remote_archive = posixpath.join(folder, f".upload-{bundle.id}.tar.gz")
    size = bundle.archive.stat().st_size
    say(f"{conn.device.name}: uploading the runtime ({size:,} bytes) to {folder}")
    with open(bundle.archive, "rb") as f:
        callback = (lambda done, total: progress(remote_archive, done, total)) if progress else None
        conn.put(f, remote_archive, size, callback)
    say(f"{conn.device.name}: verifying sha256 and unpacking on the device")
    remote.commit(conn, ["runtime", work, bundle.id, runtime.FOLDERS[bundle.kind]], timeout=900)
    return size


def _check_arch(project: Project, device: inventory.Device, probe: remote.Probe) -> None:
    target = targets.load(project, device.target)
    if target.arch != probe.machine:
        raise DeviceError(f"{device.name}: its Python reports machine {probe.machine!r}, but its target "
                          f"{device.target!r} is for {target.arch!r}; fix `target` of [device.{device.name}] "
                          f"in {device.source}")
