"""SSH to a device: paramiko with pinned host keys, key-only auth and a timeout on everything.

Host keys come only from devices/known_hosts (and the git-ignored devices/known_hosts.local that
`invoke lab.emulate` writes); unknown and changed keys are refused (RejectPolicy), never added.
Authentication uses the device's key file only: no agent, no search of ~/.ssh. A dead peer is
detected by TCP keepalives with a deadline of our own. Every step has a deadline: connecting,
starting a command, opening SFTP, each command and each whole transfer (a link that trickles
passes every per-operation timeout); past one, the connection is closed. Device output kept on
the host is capped (the tail is kept, with a note of what was dropped).
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Iterator
from pathlib import Path

import paramiko

from ..errors import DeviceError
from .inventory import Device, Inventory

LOCAL_KNOWN_HOSTS = "known_hosts.local"


@dataclass(frozen=True)
class Timeouts:
    connect: float = 10.0
    banner: float = 10.0
    auth: float = 10.0
    command: float = 120.0  # default for one remote command
    keepalive: float = 5.0  # seconds between keepalive probes
    dead_after: float = 30.0  # no answer to keepalives for this long: the peer is dead
    exec_start: float = 15.0  # the device accepts a command (or the SFTP subsystem) within this
    sftp_open: float = 15.0
    transfer_base: float = 60.0  # a whole upload may take this plus its size at transfer_rate
    transfer_rate: float = 256 * 1024  # bytes/s: slower than this and the link is unusable anyway
    lease: float = 60.0  # the device lock's lease; the holder renews it every third of this

    def transfer(self, size: int) -> float:
        return self.transfer_base + size / self.transfer_rate


# Device output kept on the host per stream: the tail (results come last), the rest is counted.
OUTPUT_CAP = 8 * 2**20
EOF_GRACE_S = 2.0  # how long a finished command's output may trail its exit status


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


def known_hosts_files(inventory: Inventory) -> list[Path]:
    return [p for p in (inventory.known_hosts, inventory.devices_dir / LOCAL_KNOWN_HOSTS) if p.is_file()]


def host_key_name(device: Device) -> str:
    """The name a host is filed under in known_hosts (OpenSSH: `[host]:port` unless port 22)."""
    return device.host if device.port == 22 else f"[{device.host}]:{device.port}"


def load_key(path: Path) -> paramiko.PKey:
    if not path.is_file():
        raise DeviceError(f"key file {path} does not exist; set key-file in the device's table "
                          f"(devices/lab.toml or devices/local.toml) to a private key the device accepts")
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise DeviceError(f"key file {path} cannot be read: {exc} (encrypted keys are not supported; "
                          f"use a key without passphrase kept only for the lab)") from None


class Connection:
    """One SSH session to a device. Use as a context manager."""

    def __init__(self, device: Device, client: paramiko.SSHClient, timeouts: Timeouts):
        self.device, self.client, self.timeouts = device, client, timeouts
        self._sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()

    @property
    def alive(self) -> bool:
        transport = self.client.get_transport()
        return bool(transport and transport.is_active())

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            with self.deadline(self.timeouts.sftp_open, "opening SFTP"):
                self._sftp = self.client.open_sftp()
            self._sftp.get_channel().settimeout(self.timeouts.command)
        return self._sftp

    @contextlib.contextmanager
    def deadline(self, seconds: float, what: str) -> Iterator[None]:
        """Close the connection if the block runs past `seconds`; then raise DeviceError naming `what`.

        paramiko waits without a timeout for some replies (exec, subsystem), and a trickling link
        passes every per-operation timeout: only closing the connection ends such a wait."""
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            self.client.close()
        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception:
            if expired.is_set():
                raise self._expired(what, seconds) from None
            raise
        finally:
            timer.cancel()
        if expired.is_set():
            raise self._expired(what, seconds)

    def _expired(self, what: str, seconds: float) -> DeviceError:
        self._sftp = None
        return DeviceError(f"{self.device.name}: {what} did not finish within {seconds:.0f} s; the connection to "
                           f"{self.device.address} was closed (the link or the device is too slow or hung)")

    def start(self, command: str) -> paramiko.Channel:
        """A channel running `command` on the device."""
        chan = self.channel(command)
        self.exec(chan, command)
        return chan

    def exec(self, chan: paramiko.Channel, command: str) -> None:
        try:
            with self.deadline(self.timeouts.exec_start, f"starting `{_short(command)}`"):
                chan.exec_command(command)
        except DeviceError as exc:
            raise DeviceError(str(exc).replace("did not finish", "did not start", 1)) from None

    def put(self, source: IO[bytes], remote: str, size: int,
            callback: Callable[[int, int], None] | None = None) -> None:
        """Upload `size` bytes from `source` to `remote` within the transfer deadline for that size."""
        seconds = self.timeouts.transfer(size)
        with self.deadline(seconds, f"uploading {posixpath.basename(remote)} ({size:,} bytes)"):
            self.sftp.putfo(source, remote, file_size=size, callback=callback, confirm=True)

    def run(self, command: str, timeout: float | None = None, stdin: bytes | None = None,
            check: bool = True) -> Result:
        """Run a shell command on the device; raise DeviceError on timeout, lost link or (check) failure."""
        timeout = timeout or self.timeouts.command
        chan = self.start(command)
        try:
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            out, err = self._collect(chan, time.monotonic() + timeout, command, timeout)
            status = chan.recv_exit_status()
        finally:
            chan.close()
        result = Result(status, out.text(), err.text())
        if check and status != 0:
            raise DeviceError(f"{self.device.name}: `{_short(command)}` failed with status {status}: "
                              f"{result.stderr.strip()[-800:] or result.stdout.strip()[-800:]}")
        return result

    def channel(self, command: str) -> paramiko.Channel:
        """A new session channel; DeviceError when the device does not answer within the connect timeout."""
        if not self.alive:
            raise DeviceError(f"{self.device.name}: connection to {self.device.address} is closed")
        try:
            return self.client.get_transport().open_session(timeout=self.timeouts.connect)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise DeviceError(f"{self.device.name}: {self.device.address} did not open a channel for "
                              f"`{_short(command)}` within {self.timeouts.connect:.0f} s ({exc}); the device or its "
                              f"sshd is hung or gone") from None

    def _collect(self, chan: paramiko.Channel, deadline: float, command: str, timeout: float):
        out, err = Tail(), Tail()
        exited = None
        while True:
            busy = False
            while chan.recv_ready():
                out.add(chan.recv(65536))
                busy = True
            while chan.recv_stderr_ready():
                err.add(chan.recv_stderr(65536))
                busy = True
            if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                # The exit status can come before the last output (CI once lost a flood's final line):
                # read on until the device's EOF, or a short grace for a child that keeps the stream open.
                exited = exited or time.monotonic()
                if chan.eof_received or time.monotonic() > exited + EOF_GRACE_S:
                    return out, err
            if not self.alive:
                raise DeviceError(f"{self.device.name}: connection to {self.device.address} lost during "
                                  f"`{_short(command)}` (no answer to keepalives within {self.timeouts.dead_after:.0f} s)")
            if time.monotonic() > deadline:
                raise DeviceError(f"{self.device.name}: `{_short(command)}` did not finish within {timeout:.0f} s")
            if not busy:
                time.sleep(0.02)

    def python(self, script: str, args: list[str] = (), timeout: float | None = None,
               env: dict[str, str] | None = None, check: bool = True) -> Result:
        """Run `script` (sent on stdin) with the device's own Python, as the inventory starts it."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        argv = [*self.device.python, "-", *args]
        command = (f"env {prefix} " if prefix else "") + " ".join(shlex.quote(a) for a in argv)
        return self.run(command, timeout=timeout, stdin=script.encode(), check=check)


class Tail:
    """The last OUTPUT_CAP bytes of a stream and how many came before them."""

    def __init__(self, cap: int = OUTPUT_CAP):
        self.cap, self.data, self.dropped = cap, bytearray(), 0

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.cap:  # trim in large steps: cheap, and never above 2x the cap
            cut = len(self.data) - self.cap
            del self.data[:cut]
            self.dropped += cut

    def text(self) -> str:
        if len(self.data) > self.cap:
            self.dropped += len(self.data) - self.cap
            del self.data[: len(self.data) - self.cap]
        note = f"[{self.dropped:,} bytes of output dropped; the last {len(self.data):,} kept]\n" if self.dropped else ""
        return note + self.data.decode(errors="replace")


def connect(inventory: Inventory, device: Device, timeouts: Timeouts = Timeouts()) -> Connection:
    client = paramiko.SSHClient()
    for path in known_hosts_files(inventory):
        client.get_host_keys().load(str(path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key = load_key(inventory.key_path(device))
    where = f"{device.name} ({device.address})"
    try:
        sock = socket.create_connection((device.host, device.port), timeout=timeouts.connect)
    except OSError as exc:
        raise DeviceError(f"{where}: cannot connect to {device.host} port {device.port} within "
                          f"{timeouts.connect:.0f} s: {exc.strerror or exc}. Is the device on and sshd running? "
                          f"(`invoke lab.status`; for rpi4-emu `invoke lab.emulate`)") from None
    _keepalive(sock, timeouts)
    try:
        client.connect(device.host, port=device.port, username=device.user, pkey=key, sock=sock,
                       timeout=timeouts.connect, banner_timeout=timeouts.banner, auth_timeout=timeouts.auth,
                       channel_timeout=timeouts.connect, allow_agent=False, look_for_keys=False)
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise DeviceError(f"{where}: HOST KEY CHANGED: the device presented {exc.key.get_name()} "
                          f"{exc.key.fingerprint}, devices/known_hosts pins {exc.expected_key.fingerprint}. "
                          f"Nothing was sent. If the device was reinstalled, read its new fingerprint on its console "
                          f"(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and run "
                          f"`invoke lab.trust {device.name} --replace --expect=SHA256:...`") from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise DeviceError(f"{where}: key authentication failed ({exc}); add the public key of "
                          f"{inventory.key_path(device)} to ~{device.user}/.ssh/authorized_keys on the device") from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):
            raise DeviceError(f"{where}: host key of {host_key_name(device)} is not in devices/known_hosts; "
                              f"nothing was sent. Check the fingerprint and run `invoke lab.trust {device.name}`") from None
        raise DeviceError(f"{where}: SSH failed: {exc}") from None
    except (OSError, EOFError) as exc:
        client.close()
        raise DeviceError(f"{where}: SSH handshake failed within the timeouts: {exc}") from None
    client.get_transport().set_keepalive(int(max(1, timeouts.keepalive)))
    return Connection(device, client, timeouts)


def _keepalive(sock: socket.socket, timeouts: Timeouts) -> None:
    """TCP keepalive so a vanished peer ends the session after about `dead_after` seconds."""
    interval = max(1, int(timeouts.keepalive))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", interval), ("TCP_KEEPINTVL", interval),
                        ("TCP_KEEPCNT", max(1, int(timeouts.dead_after / interval))),
                        ("TCP_USER_TIMEOUT", int(timeouts.dead_after * 1000))):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


# What paramiko raises when the link breaks mid-operation (peer killed, reset, closed channel).
LINK_ERRORS = (paramiko.SSHException, OSError, EOFError)


def link_lost(device: Device, exc: BaseException) -> DeviceError:
    """The DeviceError for a link that broke mid-operation (nothing on the device was switched)."""
    return DeviceError(f"{device.name}: the SSH connection to {device.address} broke: "
                       f"{type(exc).__name__}: {exc or 'closed'}. Whatever was in progress was not made live; "
                       f"check the device (`invoke lab.status`) and retry")


def _short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."
