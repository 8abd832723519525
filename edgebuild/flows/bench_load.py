"""The load of `invoke bench --contention`: one CPU-bound process pinned to one core beside the engines.

The same busy process serves every engine: it is paused (SIGSTOP) and resumed (SIGCONT) around
each loaded block, so quiet and loaded blocks of all engines interleave within one run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time

# A pure-Python loop: CPU-bound, and its working set is a few cache lines (not memory-bound).
BUSY_LOOP = "while True: pass"
SETTLE_S = 0.05  # lets the scheduler place the resumed process before an engine's block starts


class BusyCore:
    """A busy process pinned to `core` (default: the highest core this process may use)."""

    def __init__(self, core: int | None = None):
        self.core = max(os.sched_getaffinity(0)) if core is None else core
        self.proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        os.sched_setaffinity(self.proc.pid, {self.core})
        self._stop()

    @contextlib.contextmanager
    def running(self):
        self.proc.send_signal(signal.SIGCONT)
        time.sleep(SETTLE_S)
        try:
            yield
        finally:
            self._stop()

    def describe(self) -> dict:
        return {"busy_core": self.core, "load": f"one process running a pure-Python busy loop on core {self.core}"}

    def _stop(self) -> None:
        """SIGSTOP, and wait until it took effect (a signal lands when the process is next scheduled)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while self._state() != "T" and time.monotonic() < deadline:
            time.sleep(0.001)

    def _state(self) -> str:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)


def loaded_figures(quiet_ms: list[float], loaded_ms: list[float], ort_loaded_ms: list[float]) -> dict:
    """An engine's loaded median, its own slowdown (loaded / quiet median) and its loaded ratio to
    ONNX Runtime's; nothing when the bench ran without load."""
    if not loaded_ms:
        return {}
    loaded = statistics.median(loaded_ms)
    return {"loaded_median_ms": round(loaded, 4), "slowdown": round(loaded / statistics.median(quiet_ms), 3),
            "ratio_loaded": round(loaded / statistics.median(ort_loaded_ms), 3)}
