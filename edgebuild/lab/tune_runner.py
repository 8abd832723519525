"""MetaSchedule runner that measures candidates on a lab device over SSH (measure.py); `invoke tune --device`.

One connection is reused across batches. When a batch fails on the link or the device, its
candidates come back as errors (MetaSchedule records them as failed and goes on) and the next
batch reconnects, within the connect timeout. When the device stays down for the next batch too,
the runner raises DeviceError; `fatal` keeps it, because MetaSchedule's C++ loop re-raises Python
errors as its own type. Records measured before that are already in the database.
"""

from __future__ import annotations

import time

from tvm.ir.utils import derived_object
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.meta_schedule.runner.local_runner import LocalRunnerFuture

from ..errors import DeviceError
from .inventory import Device, Inventory
from .measure import MeasureSession
from .measure_protocol import Evaluator, Measured
from .transport import LINK_ERRORS, Timeouts

# Consecutive failed batches before the tune stops: one drop is retried, a device still down is not.
MAX_FAILED_BATCHES = 1


@derived_object
class DeviceRunner(ms.runner.PyRunner):
    def __init__(self, inventory: Inventory, device: Device, kept: str, evaluator: Evaluator = Evaluator(),
                 timeouts: Timeouts = Timeouts(), say=print, open_session=MeasureSession) -> None:
        super().__init__()
        self.inventory, self.device, self.kept = inventory, device, kept  # kept: where records are, for messages
        self.evaluator, self.timeouts, self.say = evaluator, timeouts, say
        self.open_session = open_session
        self.session: MeasureSession | None = None
        self.batches = self.failed_batches = self.measured = 0
        self.down = 0  # consecutive failed batches
        self.fatal: DeviceError | None = None

    def run(self, runner_inputs) -> list:
        # MetaSchedule's measure callbacks delete the artifacts' folders afterwards.
        results = self.measure_batch([(str(i.artifact_path), [a.as_json() for a in i.args_info])
                                      for i in runner_inputs])
        return [LocalRunnerFuture(res=m.run_secs) if m.ok else LocalRunnerFuture(error_message=m.error)
                for m in results]

    def measure_batch(self, artifacts: list[tuple[str, list]]) -> list[Measured]:
        """One Measured per artifact; raises DeviceError (and keeps it in `fatal`) when the device stays down."""
        self.batches += 1
        began = time.monotonic()
        try:
            results = self._session().measure(artifacts, self.evaluator)
        except (DeviceError, *LINK_ERRORS) as exc:
            return self._failed(len(artifacts), exc)
        self.down = 0
        ok = sum(m.ok for m in results)
        self.measured += ok
        self.say(f"  {self.device.name}: batch {self.batches}: {ok}/{len(results)} candidates measured "
                 f"in {time.monotonic() - began:.1f} s")
        return results

    def open(self) -> None:
        """Connect before the search starts, so an unreachable or unprovisioned device fails at once."""
        self._session()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def _session(self) -> MeasureSession:
        if self.session is not None and not self.session.alive:
            self.close()
        if self.session is None:
            self.session = self.open_session(self.inventory, self.device, self.timeouts)
        return self.session

    def _failed(self, count: int, exc: BaseException) -> list[Measured]:
        self.close()
        self.down += 1
        self.failed_batches += 1
        reason = str(exc) if isinstance(exc, DeviceError) else f"{type(exc).__name__}: {exc or 'link closed'}"
        if self.down > MAX_FAILED_BATCHES:
            self.fatal = DeviceError(
                f"{self.device.name} is down: {reason}. Tuning stopped after {self.batches} batches "
                f"({self.measured} candidates measured on the device); the records measured so far are kept "
                f"in {self.kept} and the next `invoke tune` resumes from them")
            raise self.fatal
        self.say(f"  {self.device.name}: batch {self.batches}: {count} candidates failed ({reason}); "
                 f"reconnecting for the next batch")
        return [Measured(error=f"{self.device.name} dropped: {reason}")] * count

