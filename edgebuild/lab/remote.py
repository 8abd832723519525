"""What the host asks of a device over a Connection: probe it, lock it (a lease), run the device scripts."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import posixpath
import secrets
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import paramiko

from ..errors import DeviceError
from .device import source
from .transport import Connection

@dataclass(frozen=True)
class Probe:
    machine: str
    python: tuple[int, ...]
    cpu_model: str
    cores: int
    work_dir: str  # absolute, as the device sees it
    free_bytes: int
    runtime: dict | None  # {"id", "site", "present"} once provisioned
    bundles: dict[str, str]
    libc: tuple[str, str]
    baselines: dict | None = None  # {"onnxruntime": {"id", "site", "present"}} once shipped

    @property
    def python_version(self) -> str:
        return ".".join(map(str, self.python))

    @property
    def runtime_site(self) -> str | None:
        return self.runtime["site"] if self.runtime and self.runtime.get("present") else None


def work_dir(conn: Connection) -> str:
    """The device's work dir; relative ones are relative to the login's home (SFTP's start folder)."""
    wd = conn.device.work_dir
    return wd if wd.startswith("/") or wd.startswith("~") else posixpath.join("~", wd)


def probe(conn: Connection) -> Probe:
    """Ask the device's own Python (under emulation `uname` lies) what the device is."""
    result = conn.python(source("probe.py"), [work_dir(conn)], check=False, timeout=60)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeviceError(f"{conn.device.name}: `{' '.join(conn.device.python)}` did not run the probe "
                          f"(status {result.status}): {result.stderr.strip()[-500:]}. Set the device's "
                          f"`python` key to a working Python 3 interpreter") from None
    try:
        return Probe(str(data["machine"]), tuple(int(v) for v in data["python"]), str(data["cpu_model"]),
                     int(data["cores"] or 1), str(data["work_dir"]), int(data["free_bytes"]), data["runtime"],
                     dict(data["bundles"]), tuple(data["libc"]), data.get("baselines"))
    except (KeyError, TypeError, ValueError) as exc:
        raise DeviceError(f"{conn.device.name}: the device's probe answered malformed JSON "
                          f"({type(exc).__name__}: {exc}; got {result.stdout.strip()[-300:]!r}); check the "
                          f"device's `python` key runs a real Python 3") from None


def commit(conn: Connection, args: list[str], timeout: float = 300) -> dict:
    """Run device/commit.py; DeviceError with its message when a check fails."""
    result = conn.python(source("commit.py"), args, check=False, timeout=timeout)
    try:
        data = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeviceError(f"{conn.device.name}: device step `{args[0]}` failed (status {result.status}): "
                          f"{result.stderr.strip()[-600:]}") from None
    if not data.get("ok"):
        raise DeviceError(f"{conn.device.name}: {data.get('error')}")
    return data


class Lease:
    """The device lock as its holder sees it: renewed in the background, jobs recorded on it."""

    def __init__(self, conn: Connection, chan, token: str, note: dict):
        self.conn, self.chan, self.token, self.note = conn, chan, token, note
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def job(self, pgid: int) -> None:
        """A job in process group `pgid` runs under this lock: it dies with the lock or its takeover."""
        self._send(f"job {int(pgid)}\n")

    def _send(self, line: str) -> None:
        try:
            self.chan.sendall(line.encode())
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.lost = self.lost or f"{type(exc).__name__}: {exc}"

    def _renew(self) -> None:
        while not self._stop.wait(self.conn.timeouts.lease / 3):
            if self.chan.closed or self.chan.exit_status_ready():
                self.lost = self.lost or "the device ended the lock (taken over after the lease expired?)"
                return
            self._send("renew\n")

    def release(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.chan.shutdown_write()
        self.chan.close()

    def takeover_note(self) -> str | None:
        old = self.note.get("took_over") or self.note.get("orphans_of")
        if not old:
            return None
        groups = ", ".join(map(str, self.note.get("killed_groups", []))) or "none running"
        how = "took over its expired lease" if "took_over" in self.note else "it left the lock without cleaning up"
        return (f"{self.conn.device.name}: {old['owner']}'s {old['action']} last renewed its lease "
                f"{old['renewed_s_ago']:.0f} s ago; {how}, killed its process groups: {groups}")


def owner() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"


@contextlib.contextmanager
def locked(conn: Connection, absolute_work_dir: str, action: str = "deploy") -> Iterator[Lease]:
    """Exclusive use of the device's work dir while the lease is renewed (see device/lock.py).

    Fails fast, naming the holder, its action and its age, when a live holder has it; takes over a
    lease its holder stopped renewing. DeviceError at the end when the lease was lost meanwhile."""
    token = "edgebuild-" + secrets.token_hex(8)
    argv = [*conn.device.python, "-c", source("lock.py"), absolute_work_dir, token, owner(), action,
            str(conn.timeouts.lease)]
    chan = conn.start(" ".join(shlex.quote(a) for a in argv))
    line, deadline = bytearray(), time.monotonic() + 60
    while b"\n" not in line and len(line) < 65536:
        if chan.recv_ready():
            line += chan.recv(4096)
        elif chan.exit_status_ready() or time.monotonic() > deadline:
            break
        else:
            time.sleep(0.02)
    word, _, rest = bytes(line).partition(b"\n")[0].decode(errors="replace").partition(" ")
    if word != "locked":
        chan.close()
        try:
            holder = json.loads(rest)
        except ValueError:
            err = chan.recv_stderr(4096).decode(errors="replace") if chan.recv_stderr_ready() else ""
            raise DeviceError(f"{conn.device.name}: the device lock did not answer ({bytes(line)[:200]!r} "
                              f"{err.strip()[-300:]})") from None
        raise DeviceError(f"{conn.device.name}: busy: {holder.get('owner')} is running a {holder.get('action')} "
                          f"there (started {holder.get('started_s_ago', '?')} s ago, lease renewed "
                          f"{holder.get('renewed_s_ago', '?')} s ago, expires in {holder.get('expires_in_s', '?')} s "
                          f"unless renewed); wait for it to finish and retry")
    lease = Lease(conn, chan, token, json.loads(rest or "{}"))
    try:
        yield lease
    finally:
        lost = lease.lost
        lease.release()
    if lost and conn.alive:
        raise DeviceError(f"{conn.device.name}: the device lock was lost during the {action} ({lost}); "
                          f"another job may have taken over; its outcome is not trusted, retry")
