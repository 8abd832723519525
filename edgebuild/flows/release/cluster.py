"""The Dask cluster a release runs on, and the lab worker that holds one resource per board.

Three ways to get build workers: a LocalCluster sized to this machine (default; one build per
core), a running scheduler (`--scheduler=tls://HOST:PORT`), or Dask's SSHCluster over the plan's
build hosts (devices/). SSH keeps the lab's policy: known_hosts pinned in devices/ (an unknown key
is refused), key authentication only, timeouts. Anything beyond loopback speaks mutual TLS with
certificates edgebuild creates (tls.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import time
from pathlib import Path
from typing import Callable, Iterator

from ...errors import UsageError
from ...lab.inventory import Device, Inventory
from ...lab.transport import known_hosts_files
from . import matrix, tls

Say = Callable[[str], None]
SSH_TIMEOUT_S = 20
# Dask's default 30 s comm timeouts drop the client on a busy build host (measured here at a load
# average above 30 on 2 cores); builds run minutes, so waiting longer costs nothing.
PATIENT = {"distributed.comm.timeouts.connect": "120s", "distributed.comm.timeouts.tcp": "300s"}


@contextlib.contextmanager
def open_cluster(inventory: Inventory, *, boards: list[str], scheduler: str | None = None, workers: int = 0,
                 build_hosts: list[Device] = (), say: Say = print) -> Iterator:
    """A connected Client with build workers (resource `build`) and, if boards, the lab worker."""
    import dask
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    with contextlib.ExitStack() as stack:
        stack.enter_context(dask.config.set(PATIENT))
        folder, expected = None, 0
        if scheduler:
            if not scheduler.startswith("tls://"):
                raise UsageError(f"--scheduler={scheduler}: Dask messages carry pickles; give a tls:// address "
                                 f"of a scheduler using the certificates in {inventory.devices_dir / tls.FOLDER}")
            folder = tls.ensure(inventory.devices_dir)
            client = stack.enter_context(Client(scheduler, security=tls.security(folder), timeout=SSH_TIMEOUT_S))
        elif build_hosts:
            folder = tls.ensure(inventory.devices_dir)
            cluster = stack.enter_context(_ssh_cluster(inventory, list(build_hosts), folder, dask))
            client = stack.enter_context(Client(cluster, security=tls.security(folder)))
            expected = len(build_hosts)
        else:
            n = workers or os.cpu_count() or 1
            cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                       resources={matrix.BUILD: 1}, dashboard_address=":0",
                                                       silence_logs=logging.ERROR))
            client = stack.enter_context(Client(cluster))
            expected = n
        if expected:  # SSHCluster returns once its workers started; they may not have registered yet
            _wait_for_build_workers(client, expected)
        if boards:
            stack.callback(matrix.stop_worker, start_lab_worker(client, boards, tls.worker_args(folder) if folder else []))
        say(f"dask: {client.scheduler.address}, {len(_build_workers(client))} build workers"
            + (f", lab worker for {len(boards)} boards" if boards else ""))
        yield client


def _wait_for_build_workers(client, expected: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while len(_build_workers(client)) < expected:
        if time.monotonic() > deadline:
            raise UsageError(f"only {len(_build_workers(client))} of {expected} build workers joined the Dask "
                             f"scheduler within {timeout:.0f} s")
        time.sleep(0.2)


def _build_workers(client) -> list[str]:
    return [a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
            if matrix.BUILD in w.get("resources", {})]


def start_lab_worker(client, boards: list[str], security_args: list[str], timeout: float = 600):
    """The lab worker process, once the scheduler lists it (a slow start on a loaded machine is not an
    error; a dead process is)."""
    proc = matrix.lab_worker(client.scheduler.address, boards, security_args)
    deadline = time.monotonic() + timeout
    while not any(w.get("name") == "lab" for w in client.scheduler_info(n_workers=-1)["workers"].values()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.log.seek(0)
            err = proc.log.read().decode(errors="replace")[-800:] if proc.poll() is not None else "timed out"
            matrix.stop_worker(proc)
            raise UsageError(f"the lab worker did not join the Dask scheduler: {err}")
        time.sleep(0.2)
    return proc


def connect_options(inventory: Inventory, device: Device) -> dict:
    """asyncssh options with the lab's policy: pinned known_hosts (never None), key only, timeouts."""
    import asyncssh

    files = [str(p) for p in known_hosts_files(inventory)]
    if not files:
        raise UsageError(f"build host {device.name}: no devices/known_hosts; pin its key with "
                         f"`invoke lab.trust {device.name}`")
    return {"port": device.port, "username": device.user, "known_hosts": asyncssh.read_known_hosts(files),
            "client_keys": [str(inventory.key_path(device))], "agent_path": None, "password": None,
            "kbdint_auth": False, "connect_timeout": SSH_TIMEOUT_S, "login_timeout": SSH_TIMEOUT_S,
            "keepalive_interval": 15}


@contextlib.contextmanager
def _ssh_cluster(inventory: Inventory, hosts: list[Device], folder: Path, dask):
    """Dask's SSHCluster: the scheduler on the first build host, one build worker per build host."""
    from distributed import SSHCluster

    # Remote processes inherit this configuration; relative paths resolve in each login's home.
    remote_folder = f".edgebuild/{tls.FOLDER}"
    _upload_certs(inventory, hosts, folder, remote_folder)
    everyone = [hosts[0], *hosts]
    with dask.config.set(tls.config(remote_folder)):
        try:
            cluster = SSHCluster(
                [d.host for d in everyone], connect_options=[connect_options(inventory, d) for d in everyone],
                worker_options={"nthreads": 1, "resources": {matrix.BUILD: 1}},
                scheduler_options={"protocol": "tls", "port": 0, "dashboard_address": ":0"},
                remote_python=[" ".join(shlex.quote(a) for a in d.python) for d in everyone],
                security=tls.security(folder))
        except Exception as exc:  # asyncssh's HostKeyNotVerifiable, PermissionDenied, OSError...
            raise UsageError(f"SSH cluster over {', '.join(d.name for d in hosts)}: {type(exc).__name__}: {exc}. "
                             f"Pin host keys with `invoke lab.trust NAME`") from None
    with cluster:
        yield cluster


def _upload_certs(inventory: Inventory, hosts: list[Device], folder: Path, remote_folder: str) -> None:
    """Copy the certificates over the lab's own SSH (paramiko, RejectPolicy) before Dask starts."""
    from ...lab.transport import connect

    for device in hosts:
        with connect(inventory, device) as conn:
            conn.run(f"mkdir -p {shlex.quote(remote_folder)} && chmod 700 {shlex.quote(remote_folder)}", timeout=30)
            for name in (tls.CA, tls.NODE):
                conn.sftp.put(str(folder / name), f"{remote_folder}/{name}")
                conn.sftp.chmod(f"{remote_folder}/{name}", 0o600)
