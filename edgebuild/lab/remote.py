"""What the host asks of a device over a Connection: probe it, lock it, run the device scripts."""

from __future__ import annotations

import contextlib
import json
import posixpath
import shlex
import time
from dataclasses import dataclass
from typing import Iterator

from ..errors import DeviceError
from .device import source
from .transport import Connection

LOCK_FILE = ".deploy.lock"
# Holds an exclusive flock on LOCK_FILE until its stdin closes (the SSH channel ends, or the
# host process dies and the connection drops), so a killed deploy never leaves a stale lock.
_LOCKER = ("import fcntl,os,sys\n"
           "f=open(sys.argv[1],'a')\n"
           "try: fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n"
           "except OSError: print('busy',flush=True); sys.exit(75)\n"
           "print('locked',flush=True); sys.stdin.buffer.read()\n")


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
    return Probe(data["machine"], tuple(data["python"]), data["cpu_model"], data["cores"] or 1,
                 data["work_dir"], data["free_bytes"], data["runtime"], data["bundles"], tuple(data["libc"]))


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


@contextlib.contextmanager
def locked(conn: Connection, absolute_work_dir: str, what: str = "deploy") -> Iterator[None]:
    """Exclusive use of the device's work dir; fails fast when another deploy holds it."""
    path = posixpath.join(absolute_work_dir, LOCK_FILE)
    conn.run(f"mkdir -p {shlex.quote(absolute_work_dir)}", timeout=30)
    chan = conn.channel("lock")
    argv = [*conn.device.python, "-c", _LOCKER, path]
    chan.exec_command(" ".join(shlex.quote(a) for a in argv))
    line, deadline = b"", time.monotonic() + 60
    while b"\n" not in line:
        if chan.recv_ready():
            line += chan.recv(64)
        elif chan.exit_status_ready() or time.monotonic() > deadline:
            break
        else:
            time.sleep(0.02)
    if not line.startswith(b"locked"):
        chan.close()
        raise DeviceError(f"{conn.device.name}: busy: another {what} holds {path}; wait for it to finish "
                          f"and retry (the lock is released when that connection ends)")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            chan.shutdown_write()
        chan.close()
