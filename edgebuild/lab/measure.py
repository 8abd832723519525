"""Time candidate kernels on a device over one SSH connection (the device side of `invoke tune`).

A session locks the device's work dir (so no deploy or profile runs beside the measurements),
checks the provisioned TVM runtime, and per batch uploads the candidates' .so files to a scratch
folder under the work dir and runs device/measure.py there with the runtime. Nothing listens on
the device: no RPC server, no open port; only the SSH connection every lab step uses.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import shlex

from ..errors import DeviceError
from . import remote
from .agent_run import run_job
from .device import source
from .inventory import Device, Inventory
from .measure_protocol import Evaluator, Measured, batch_json, parse
from .transport import Timeouts, connect

SCRATCH = "tune-scratch"
# Device-side deadlines: importing TVM under qemu takes seconds; one candidate is a few timed runs.
IMPORT_S, PER_CANDIDATE_S = 60, 30


class MeasureSession:
    """An open connection to `device` with its work dir locked for tuning. Close it when done."""

    def __init__(self, inventory: Inventory, device: Device, timeouts: Timeouts):
        self.device = device
        self._stack = contextlib.ExitStack()
        try:
            self.conn = self._stack.enter_context(connect(inventory, device, timeouts))
            probe = remote.probe(self.conn)
            if not probe.runtime_site:
                raise DeviceError(f"{device.name}: no TVM runtime under {probe.work_dir}; "
                                  f"run `invoke lab.provision {device.name}` first")
            self.site = probe.runtime_site
            self.lease = self._stack.enter_context(remote.locked(self.conn, probe.work_dir, "tune"))
            self.scratch = posixpath.join(probe.work_dir, SCRATCH)
            # Holding the lock, whatever is in the scratch folder is a killed run's leftovers.
            self.conn.run(f"rm -rf {shlex.quote(self.scratch)} && mkdir -p {shlex.quote(self.scratch)}", timeout=30)
        except BaseException:
            self._stack.close()
            raise

    @property
    def alive(self) -> bool:
        return self.conn.alive

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead link must not mask why it died
            self._stack.close()

    def measure(self, artifacts: list[tuple[str, list]], evaluator: Evaluator) -> list[Measured]:
        """Time each (local .so path, args_info JSON) on the device; one Measured per artifact, in order.

        DeviceError (or a paramiko/socket error) when the link or the device fails the batch."""
        for i, (path, _) in enumerate(artifacts):
            with open(path, "rb") as f:
                self.conn.put(f, posixpath.join(self.scratch, f"c{i}.so"), os.fstat(f.fileno()).st_size)
        results: dict[int, Measured] = {}
        pending = list(range(len(artifacts)))
        while pending:
            run = self._run([(i, f"c{i}.so", artifacts[i][1]) for i in pending], evaluator)
            got = parse(run.stdout, set(pending))
            results.update(got)
            rest = [i for i in pending if i not in got]
            if not rest:
                break
            tail = run.stderr.strip()[-400:] or run.stdout.strip()[-400:]
            if not got and 0 <= run.status < 128:  # a Python error before any candidate: no use retrying
                raise DeviceError(f"{self.device.name}: the measuring script failed (status {run.status}): {tail}")
            # It reports in order, so it died on rest[0] (SIGILL, SIGSEGV): blame that one, go on.
            results[rest[0]] = Measured(error=f"the device's measuring process died (status {run.status}) "
                                              f"on this candidate: {tail}")
            pending = rest[1:]
        self.conn.run(f"rm -f {shlex.quote(self.scratch)}/*", timeout=30, check=False)
        return [results[i] for i in range(len(artifacts))]

    def _run(self, candidates: list[tuple[int, str, list]], evaluator: Evaluator):
        data = batch_json(candidates, evaluator).encode()
        self.conn.put(io.BytesIO(data), posixpath.join(self.scratch, "batch.json"), len(data))
        limit = IMPORT_S + PER_CANDIDATE_S * len(candidates)
        argv = [*self.device.python, "-", self.scratch, self.site]
        # recorded on the lease: the run dies with the lock (a killed host leaves no measuring process)
        return run_job(self.conn, argv, source("measure.py").encode(), limit, self.lease, "the measuring script")
