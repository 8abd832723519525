"""Run the on-device agent with a job timeout; a hung agent is killed with its whole process group.

sshd starts each command as a session leader, so the shell's pid is also the process group of
everything the run starts; the shell prints it on a marked line (a login shell may print other
lines first) and the group is recorded on the device lock's lease, which kills it when the
connection ends or the lease is taken over. The device's own `timeout` is the last resort; the
host's deadline (a little earlier) kills the group over a second channel and checks nothing is left.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import shlex
import time
from dataclasses import dataclass

from ..compile.runner import THREAD_POOL_ENV
from ..errors import DeviceError, UsageError
from .device import agent_source, pair_source
from .transport import Connection, Result, Tail

MARKER = "EDGEBUILD-RESULT "
PGID_MARKER = "EDGEBUILD-PGID "
_PGID_LINE = re.compile(rb"^EDGEBUILD-PGID (\d+)\r?$", re.M)


@dataclass(frozen=True)
class AgentOptions:
    runs: int = 64  # enough for a p90 (see lab/validity.py)
    min_seconds: float = 1.0
    warmup: int = 5
    timeout: float = 300.0  # the whole job, TVM import under emulation included
    baseline: str | None = None  # "onnxruntime": time it beside TVM in the same job (device/pair.py)
    threads: int = 0  # per engine; 0: the device's cores

    @classmethod
    def parse(cls, runs=64, min_seconds=1.0, warmup=5, timeout=300.0, baseline=None, threads=0) -> "AgentOptions":
        """Options from command-line values; UsageError naming the flag for anything unusable."""
        values = {"runs": _number("--runs", runs, int, 1, "a whole number of timed runs >= 1"),
                  "min_seconds": _number("--min-seconds", min_seconds, float, 0, "seconds >= 0"),
                  "warmup": _number("--warmup", warmup, int, 0, "a whole number of untimed runs >= 0"),
                  "timeout": _number("--timeout", timeout, float, 1e-9, "seconds > 0")}
        if values["timeout"] > 86400:
            raise UsageError(f"--timeout={timeout}: at most 86400 seconds (one day)")
        if baseline not in (None, "", "onnxruntime"):
            raise UsageError(f"--baseline={baseline!r}: the one baseline is 'onnxruntime'")
        return cls(**values, baseline=baseline or None,
                   threads=_number("--threads", threads, int, 0, "a whole number of threads >= 0 (0: all cores)"))


def _number(flag: str, value, kind: type, minimum: float, what: str):
    try:
        number = kind(value) if kind is float or isinstance(value, int) else int(str(value), 10)
    except (TypeError, ValueError):
        raise UsageError(f"{flag}={value!r}: expected {what}") from None
    if isinstance(value, float) and kind is int and value != int(value):
        raise UsageError(f"{flag}={value!r}: expected {what}")
    if not math.isfinite(number) or number < minimum:
        raise UsageError(f"{flag}={value!r}: expected {what}")
    return number


def run_agent(conn: Connection, bundle_path: str, runtime_site: str, options: AgentOptions,
              script: str | None = None, lease=None, baseline_site: str | None = None, cores: int = 1) -> dict:
    """The agent's JSON result; DeviceError when it fails, or is killed at the job timeout.

    `lease` (remote.Lease) records the agent's process group, so it dies with the lock. With
    `baseline_site` (ONNX Runtime's folder on the device) the job is device/pair.py: both engines."""
    if baseline_site:
        threads = options.threads or cores
        script = script or pair_source()
        args = [bundle_path, runtime_site, baseline_site, str(options.runs), str(options.min_seconds),
                str(options.warmup), str(threads), json.dumps(list(conn.device.python))]
    else:
        args = [bundle_path, runtime_site, str(options.runs), str(options.min_seconds), str(options.warmup)]
    argv = [*conn.device.python, "-", *args]
    threads = [f"TVM_NUM_THREADS={int(options.threads)}"] if options.threads else []
    began = time.monotonic()
    run = run_job(conn, [*threads, "TVM_USE_RUNTIME_LIB=1", *runtime_settings(), *argv],
                  (script or agent_source()).encode(), options.timeout, lease, "the agent")
    status, text, limit = run.status, run.stdout, int(options.timeout) + 1
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError:
                raise DeviceError(f"{conn.device.name}: the agent's result line is not JSON: "
                                  f"{line[len(MARKER):][:300]!r}") from None
    tail = run.stderr.strip()[-1200:]
    if status in (-1, 137) and time.monotonic() - began >= options.timeout - 1:
        raise DeviceError(f"{conn.device.name}: the agent was killed at the device-side timeout of {limit} s")
    if status < 0 or status > 128:  # died from a signal: SIGILL means code the device's CPU cannot run
        raise DeviceError(f"{conn.device.name}: the agent died from a signal: {tail or 'no message'}. "
                          f"'Illegal instruction' means model.so uses CPU features the device lacks: "
                          f"check the target's mcpu/mattr")
    raise DeviceError(f"{conn.device.name}: the agent failed (status {status}): {tail or text[-600:]}")


def run_job(conn: Connection, argv: list[str], stdin: bytes, timeout: float, lease=None,
            what: str = "the job") -> Result:
    """Run `argv` (leading NAME=VALUE items set the environment) on the device with `stdin`.

    Its process group is recorded on `lease` (remote.Lease) as soon as the marked line arrives, so the
    job dies with the lock; the device's own `timeout` ends it even when the host is gone, and the
    host's deadline kills the group first. Output is capped (Tail)."""
    limit = int(timeout) + 1
    token = lease.token if lease else "edgebuild-" + secrets.token_hex(8)
    command = (f"echo {PGID_MARKER}$$; exec timeout -s KILL {limit} env EDGEBUILD_JOB={token} "
               + " ".join(shlex.quote(a) for a in argv))
    chan = conn.start(command)
    chan.sendall(stdin)
    chan.shutdown_write()
    out, err, head = Tail(), Tail(), bytearray()
    group = None
    deadline = time.monotonic() + timeout
    try:
        while not (chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready()):
            if chan.recv_ready():
                chunk = chan.recv(65536)
                out.add(chunk)
                if group is None and len(head) < 4096:
                    head += chunk
                    group = job_pgid(bytes(head))
                    if group and lease:
                        lease.job(group)
            elif chan.recv_stderr_ready():
                err.add(chan.recv_stderr(65536))
            elif time.monotonic() > deadline:
                left = kill_group(conn, group) if group else None
                raise DeviceError(f"{conn.device.name}: {what} did not finish within the job timeout of "
                                  f"{timeout:.0f} s; killed process group {group}"
                                  + (f" ({left} processes still listed)" if left else ", nothing left running"))
            elif not conn.alive:
                raise DeviceError(f"{conn.device.name}: connection lost while {what} ran; the device's own "
                                  f"`timeout {limit}` ends it")
            else:
                time.sleep(0.05)
        status = chan.recv_exit_status()
    finally:
        chan.close()
    return Result(status, out.text(), err.text())


def runtime_settings() -> list[str]:
    """TVM's thread-pool policy as `env` arguments (the agent sets the thread count from the device's cores)."""
    return [f"{key}={value}" for key, value in sorted(THREAD_POOL_ENV.items())]


def job_pgid(out: bytes) -> int | None:
    """The process group from the marked line (a whole line, a pid > 1), or None."""
    found = _PGID_LINE.search(out[: out.rfind(b"\n") + 1])
    group = int(found.group(1)) if found else 0
    return group if group > 1 else None


def kill_group(conn: Connection, group: int) -> int:
    """SIGKILL process group `group` on the device; the number of its processes still alive after."""
    if not isinstance(group, int) or group <= 1:  # kill(-1) signals every process the user may
        raise ValueError(f"refusing to kill process group {group!r}: not a job's group")
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
