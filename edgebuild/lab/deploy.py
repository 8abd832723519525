"""Deploy a bundle to a device: staged upload, sha256 verified on the device, atomic switch.

Layout in the device's work dir: bundles/NAME is a symlink to bundles/.v-SHA-ID/ (NAME is
model--recipe--target). A deploy uploads into bundles/.tmp-ID/ (model.so and reference.npz
zlib-compressed), the device inflates them and checks every file against manifest.json, and only then is the symlink replaced (rename(2), atomic). A failed or
killed deploy leaves the previous one intact; the next deploy removes its leftovers. Deploys to one
device are serialized by the device lock (remote.locked: a lease its holder renews). Names from
the manifest are validated here and again on the device, which writes only under its own folders.
"""

from __future__ import annotations

import io
import posixpath
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import bundle as bundles
from ..errors import DeviceError
from ..models.base import sha256_file
from . import remote
from .transport import Connection

# Called with (remote path of the staged file, bytes sent so far, total) while uploading.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Deployed:
    device: str
    name: str  # model--recipe--target
    path: str  # bundles/NAME on the device (absolute)
    bundle_sha256: str  # sha256 of manifest.json
    sent_bytes: int  # 0 when the device already had this bundle
    seconds: float
    removed_stale: tuple[str, ...] = ()

    def summary(self) -> str:
        what = "already deployed, nothing sent" if not self.sent_bytes else f"sent {self.sent_bytes:,} bytes"
        stale = f"; removed stale {', '.join(self.removed_stale)}" if self.removed_stale else ""
        return f"{self.device}: {self.name} -> {self.path}: {what} in {self.seconds:.1f} s{stale}"


@dataclass(frozen=True)
class LocalBundle:
    folder: Path
    manifest: dict
    sha256: str  # of manifest.json

    @classmethod
    def open(cls, folder: Path) -> "LocalBundle":
        """The bundle in `folder`, checked before anything is sent: its manifest validates (names that
        become paths included), no file it sends is a symlink, and each matches its sha256."""
        folder = Path(folder).expanduser()
        for name in bundles.DEVICE_FILES:
            if (folder / name).is_symlink():
                raise DeviceError(f"{folder}: {name} is a symlink; a bundle's files must be regular files "
                                  f"(nothing was sent). Rebuild the bundle with `invoke build`")
            if not (folder / name).is_file():
                raise DeviceError(f"{folder}: {name} is missing; rebuild the bundle with `invoke build`")
        manifest = bundles.read_manifest(folder)
        if manifest is None:
            raise DeviceError(f"{folder}: no readable {bundles.MANIFEST}; build it with `invoke build` first")
        problem = bundles.manifest_problem(manifest)
        if problem:
            raise DeviceError(f"{folder / bundles.MANIFEST}: {problem}; rebuild the bundle with `invoke build`")
        for name in bundles.DEVICE_FILES[:-1]:
            entry = manifest["files"].get(name)
            if entry is None or sha256_file(folder / name) != entry["sha256"]:
                raise DeviceError(f"{folder}: {name} does not match the sha256 its manifest lists; the bundle "
                                  f"changed after it was built. Rebuild it with `invoke build`")
        return cls(folder, manifest, sha256_file(folder / bundles.MANIFEST))

    @property
    def name(self) -> str:
        m = self.manifest
        return f"{m['model']['name']}--{m['recipe']['name']}--{m['target']['name']}"

    @property
    def target(self) -> str:
        return self.manifest["target"]["name"]

    @property
    def arch(self) -> str:
        return self.manifest["target"]["arch"]

    def checked(self, names: tuple[str, ...]) -> list[str]:
        """`names` after the checks open() makes of the device files: regular files matching the manifest."""
        for name in names:
            path, entry = self.folder / name, self.manifest["files"].get(name)
            if path.is_symlink() or not path.is_file() or entry is None or sha256_file(path) != entry["sha256"]:
                raise DeviceError(f"{self.folder}: {name} is missing, a symlink, or differs from its manifest entry; "
                                  f"rebuild the bundle with `invoke build`")
        return list(names)

    @property
    def payload(self) -> list[str]:
        """Files the device needs besides the manifest, each listed in it with its sha256."""
        return [n for n in bundles.DEVICE_FILES if n != bundles.MANIFEST]


def deploy(conn: Connection, probe: remote.Probe, local: LocalBundle, progress: Progress | None = None,
           force: bool = False, extra: tuple[str, ...] = ()) -> Deployed:
    """Deploy while holding the device's lock (see remote.locked); `force` sends even an intact copy.

    `extra`: bundle files sent besides DEVICE_FILES (model.onnx for a baseline), checked the same way."""
    payload = [*local.payload, *local.checked(extra)]
    began = time.monotonic()
    device = conn.device
    if local.arch != probe.machine:
        raise DeviceError(f"{device.name}: bundle {local.folder} is for {local.arch} (target {local.target!r}); "
                          f"the device's Python reports {probe.machine}. Build for the device's target "
                          f"({device.target!r}) or pick another bundle")
    folder = posixpath.join(probe.work_dir, "bundles")
    link = posixpath.join(folder, local.name)
    removed = tuple(remote.commit(conn, ["clean", probe.work_dir], timeout=120)["removed"])
    current = probe.bundles.get(local.name, "")
    fresh = current.startswith(f".v-{local.sha256[:12]}-")
    if not force and fresh and _intact(conn, probe.work_dir, current, local, payload):
        return Deployed(device.name, local.name, link, local.sha256, 0, time.monotonic() - began, removed)
    staging = f".tmp-{secrets.token_hex(6)}"
    remote_dir = posixpath.join(folder, staging)
    conn.sftp.mkdir(remote_dir)
    sent = 0
    for name in [*payload, bundles.MANIFEST]:
        data = (local.folder / name).read_bytes()
        if name != bundles.MANIFEST:  # compressed on the wire (what the manifest's transfer_bytes counts)
            data, name = bundles.wire_encode(data), name + bundles.WIRE_SUFFIX
        target = posixpath.join(remote_dir, name)
        callback = (lambda done, total, t=target: progress(t, done, total)) if progress else None
        try:
            conn.put(io.BytesIO(data), target, len(data), callback)
        except (OSError, EOFError) as exc:
            if not conn.alive:
                raise
            raise DeviceError(f"{device.name}: the device refused the upload of {name} ({len(data):,} bytes): "
                              f"{exc or type(exc).__name__}. Is its disk full? ({probe.work_dir} had "
                              f"{probe.free_bytes:,} bytes free before this deploy)") from None
        sent += len(data)
    remote.commit(conn, ["bundle", probe.work_dir, local.name, staging, local.sha256, *payload], timeout=120)
    return Deployed(device.name, local.name, link, local.sha256, sent, time.monotonic() - began, removed)


def _intact(conn: Connection, work: str, version: str, local: LocalBundle, payload: list[str]) -> bool:
    """The deployed copy still matches the manifest's sha256s (a same-size corruption included)."""
    try:
        remote.commit(conn, ["verify", work, version, local.sha256, *payload], timeout=120)
    except DeviceError:
        return False
    return True

