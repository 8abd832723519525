"""Runs a compiled model.so on this machine (metrics, reference outputs, benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import weights

# TVM's thread-pool policy, read from the environment when the pool starts (first parallel kernel).
# TVM's defaults pin each worker to a core and spin (300,000 sched_yield calls) before sleeping, and
# split each parallel loop into one fixed chunk per thread. Beside other busy processes a spinning,
# pinned worker runs only when the scheduler preempts them, so every parallel kernel waits for time
# slices. Measured 2026-11-29 on this 2-core host (load average ~31 from other jobs; both settings and
# ONNX Runtime side by side in one run, with and without bench_load's busy core): MiniLM median
# 1068 ms quiet / 1067 ms loaded unpinned without spinning, 3405 / 2614 ms with TVM's defaults, ONNX
# Runtime 1406 / 1893 ms. Not spinning at all costs a wake-up per parallel kernel, though: a short spin
# (1,000 yields, well under a millisecond) bridges the gap between one inference's back-to-back
# kernels. Measured 2026-11-30 on the same host (load ~2), `invoke bench --model=minilm
# --recipe=int8-dynamic --runs=40 --contention`, three runs per setting alternating: ratio to ONNX
# Runtime quiet 1.06x, 1.13x, 1.14x with spin 0 and 0.86x, 1.01x, 0.98x with 1,000; loaded (beside the
# busy core) 0.95x, 0.86x, 0.94x and 0.80x, 0.83x, 0.79x. Reproduce with TVM_THREAD_POOL_SPIN_COUNT
# set (the environment wins).
THREAD_POOL_ENV = {"TVM_BIND_THREADS": "0", "TVM_THREAD_POOL_SPIN_COUNT": "1000"}


def runtime_env(threads: int | None = None) -> dict[str, str]:
    """The environment TVM's runtime should start with: the thread-pool policy and `threads`
    workers (default: every core; TVM's own default on x86 is half of them)."""
    return {**THREAD_POOL_ENV, "TVM_NUM_THREADS": str(threads or os.cpu_count() or 1)}


def configure(threads: int | None = None) -> None:
    """Apply runtime_env in this process, keeping any of its variables the user set."""
    for key, value in runtime_env(threads).items():
        os.environ.setdefault(key, value)


def load(path: Path):
    """(VirtualMachine, weights) of a library: call vm["main"](*inputs, *weights). The weights file
    beside the library (weights.beside) is mapped, not copied; a library built without one has none."""
    import tvm
    from tvm.runtime.vm import VirtualMachine

    configure()
    weights.load_runtime_extras()
    vm = VirtualMachine(tvm.runtime.load_module(str(path)), tvm.cpu())
    params = weights.beside(path)
    return vm, (weights.load(params) if os.path.exists(params) else [])


class HostModel:
    """model.so loaded into TVM's Relax VM on the CPU; call with named inputs, get outputs in order."""

    def __init__(self, path: Path, input_names: list[str]):
        import tvm

        self._tvm = tvm
        self.vm, self.weights = load(path)
        self.input_names = input_names

    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return flatten(self.vm["main"](*self._args(inputs)))

    def profile(self, inputs: dict[str, np.ndarray]) -> dict[str, float]:
        """Each kernel's (and VM builtin's) share of one run's time (kernels.profile)."""
        from .kernels import profile

        return profile(self.vm, self._args(inputs))

    def _args(self, inputs):
        # np.ascontiguousarray makes a 0-d array 1-d: a scalar input would reach the VM with the wrong rank.
        given = [self._tvm.runtime.tensor(np.require(inputs[n], requirements="C")) for n in self.input_names]
        return given + self.weights


def flatten(result) -> list[np.ndarray]:
    if hasattr(result, "numpy"):
        return [result.numpy()]
    return [array for item in result for array in flatten(item)]
