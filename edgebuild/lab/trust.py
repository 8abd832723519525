"""`invoke lab.trust DEVICE`: show a device's host key fingerprint and pin it in known_hosts.

Devices from devices/lab.toml are pinned in the committed devices/known_hosts; machine-local ones
(devices/local.toml, e.g. rpi4-emu) in the git-ignored devices/known_hosts.local.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import paramiko

from ..errors import DeviceError
from .inventory import LOCAL, Device, Inventory
from .transport import LOCAL_KNOWN_HOSTS, Timeouts, host_key_name, known_hosts_files


@dataclass(frozen=True)
class Trusted:
    device: str
    file: Path
    key_type: str
    fingerprint: str  # OpenSSH style: SHA256:base64
    changed: bool  # False when the same key was already pinned


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def scan(device: Device, timeouts: Timeouts = Timeouts()) -> paramiko.PKey:
    """The host key the device presents (no authentication, nothing sent)."""
    try:
        sock = socket.create_connection((device.host, device.port), timeout=timeouts.connect)
    except OSError as exc:
        raise DeviceError(f"{device.name}: cannot connect to {device.host} port {device.port}: "
                          f"{exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeouts.banner
    try:
        transport.start_client(timeout=timeouts.banner)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise DeviceError(f"{device.name}: SSH handshake with {device.host}:{device.port} failed: {exc}") from None
    finally:
        transport.close()


def pinned(inventory: Inventory, device: Device) -> list[paramiko.PKey]:
    keys = paramiko.HostKeys()
    for path in known_hosts_files(inventory):
        keys.load(str(path))
    entry = keys.lookup(host_key_name(device)) or {}
    return list(entry.values())


def trust(inventory: Inventory, device: Device, replace: bool = False, key: paramiko.PKey | None = None,
          timeouts: Timeouts = Timeouts(), expect: str | None = None,
          confirm: Callable[[str], bool] | None = None) -> Trusted:
    """Pin the device's current host key. A different pinned key is kept unless `replace`.

    A key scanned over the network is pinned only when it matches `expect` (an OpenSSH SHA256
    fingerprint read on the device's console) or `confirm(fingerprint)` says yes; without either
    (non-interactive use) nothing is pinned. A `key` given by the caller is already known to it
    (lab.emulate generated it) and needs neither."""
    scanned = key is None
    key = key or scan(device, timeouts)
    if expect and expect.removeprefix("SHA256:") != fingerprint(key).removeprefix("SHA256:"):
        raise DeviceError(f"{device.name}: {device.host}:{device.port} presents {fingerprint(key)}, not the expected "
                          f"{expect}; nothing recorded. Someone may be intercepting the connection, or the "
                          f"fingerprint was read from another key (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub)")
    name = host_key_name(device)
    target = inventory.devices_dir / (LOCAL_KNOWN_HOSTS if device.source.name == LOCAL else "known_hosts")
    old = pinned(inventory, device)
    if any(k == key for k in old) and not (replace and len(old) > 1):
        return Trusted(device.name, target, key.get_name(), fingerprint(key), changed=False)
    if old and not replace:
        raise DeviceError(f"{device.name}: {name} already has a different pinned key "
                          f"({', '.join(fingerprint(k) for k in old)}); the device now presents "
                          f"{fingerprint(key)}. If you expected this (reinstalled device), read the new "
                          f"fingerprint on the device's console and run "
                          f"`invoke lab.trust {device.name} --replace --expect=SHA256:...`")
    if scanned and not expect:
        if confirm is None:
            raise DeviceError(f"{device.name}: {name} presents {key.get_name()} {fingerprint(key)}; nothing recorded. "
                              f"Compare it with the device's own (on its console: ssh-keygen -lf "
                              f"/etc/ssh/ssh_host_ed25519_key.pub) and run `invoke lab.trust {device.name} "
                              f"--expect=SHA256:...` with that fingerprint, or run lab.trust in a terminal to confirm")
        if not confirm(fingerprint(key)):
            raise DeviceError(f"{device.name}: key {fingerprint(key)} not confirmed; nothing recorded")
    for path in known_hosts_files(inventory):
        forget(path, name)
    record(target, name, key)
    return Trusted(device.name, target, key.get_name(), fingerprint(key), changed=True)


def record(path: Path, name: str, key: paramiko.PKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"{name} {key.get_name()} {key.get_base64()}\n"
    _write(path, text)


def forget(path: Path, name: str) -> None:
    """Remove every line for host `name` from a known_hosts file (comments are kept)."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [ln for ln in lines if ln.startswith("#") or name not in ln.split(" ", 1)[0].split(",")]
    if kept != lines:
        _write(path, "".join(kept))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
