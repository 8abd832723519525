"""Run the on-device agent with a job timeout; a hung agent is killed with its whole process group.

sshd starts each command as a session leader, so the shell's pid is also the process group of
everything the run starts. The device's own `timeout` kills the agent if the host vanishes; the
host's deadline (a little later) kills the group over a second channel and checks nothing is left.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass

from ..compile.runner import THREAD_POOL_ENV
from ..errors import DeviceError
from .device import agent_source
from .transport import Connection

MARKER = "EDGEBUILD-RESULT "


@dataclass(frozen=True)
class AgentOptions:
    runs: int = 50
    min_seconds: float = 1.0
    warmup: int = 5
    timeout: float = 300.0  # the whole job, TVM import under emulation included


def run_agent(conn: Connection, bundle_path: str, runtime_site: str, options: AgentOptions,
              script: str | None = None) -> dict:
    """The agent's JSON result; DeviceError when it fails, or is killed at the job timeout."""
    argv = [*conn.device.python, "-", bundle_path, runtime_site, str(options.runs), str(options.min_seconds),
            str(options.warmup)]
    limit = int(options.timeout) + 1
    command = (f"echo $$; exec timeout -s KILL {limit} env TVM_USE_RUNTIME_LIB=1 "
               + " ".join(shlex.quote(a) for a in [*runtime_settings(), *argv]))
    chan = conn.channel("agent")
    chan.exec_command(command)
    chan.sendall((script or agent_source()).encode())
    chan.shutdown_write()
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + options.timeout
    try:
        while not (chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready()):
            if chan.recv_ready():
                out += chan.recv(65536)
            elif chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            elif time.monotonic() > deadline:
                group = _pid(out)
                left = kill_group(conn, group) if group else None
                raise DeviceError(f"{conn.device.name}: the agent did not finish within the job timeout of "
                                  f"{options.timeout:.0f} s; killed process group {group}"
                                  + (f" ({left} processes still listed)" if left else ", nothing left running"))
            elif not conn.alive:
                raise DeviceError(f"{conn.device.name}: connection lost while the agent ran; the device's own "
                                  f"`timeout {limit}` ends it")
            else:
                time.sleep(0.05)
        status = chan.recv_exit_status()
    finally:
        chan.close()
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    tail = err.decode(errors="replace").strip()[-1200:]
    if status in (-1, 137) and time.monotonic() >= deadline - 1:
        raise DeviceError(f"{conn.device.name}: the agent was killed at the device-side timeout of {limit} s")
    if status < 0 or status > 128:  # died from a signal: SIGILL means code the device's CPU cannot run
        raise DeviceError(f"{conn.device.name}: the agent died from a signal: {tail or 'no message'}. "
                          f"'Illegal instruction' means model.so uses CPU features the device lacks: "
                          f"check the target's mcpu/mattr")
    raise DeviceError(f"{conn.device.name}: the agent failed (status {status}): {tail or text[-600:]}")


def runtime_settings() -> list[str]:
    """TVM's thread-pool policy as `env` arguments (the agent sets the thread count from the device's cores)."""
    return [f"{key}={value}" for key, value in sorted(THREAD_POOL_ENV.items())]


def _pid(out: bytearray) -> int | None:
    first = bytes(out).split(b"\n", 1)[0].strip()
    return int(first) if first.isdigit() else None


def kill_group(conn: Connection, group: int) -> int:
    """SIGKILL process group `group` on the device; the number of its processes still alive after."""
    conn.run(f"kill -KILL -- -{group} 2>/dev/null; true", timeout=30)
    for _ in range(50):
        left = processes_in_group(conn, group)
        if not left:
            return 0
        time.sleep(0.1)
    return left


def processes_in_group(conn: Connection, group: int) -> int:
    """How many processes of process group `group` are alive on the device."""
    out = conn.run(f"ps -e -o pgid= | awk '$1 == {int(group)}' | wc -l", timeout=30, check=False).stdout
    return int(out.strip() or 0)
