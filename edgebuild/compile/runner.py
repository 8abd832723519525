"""Runs a compiled model.so on this machine (metrics, reference outputs, benchmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class HostModel:
    """model.so loaded into TVM's Relax VM on the CPU; call with named inputs, get outputs in order."""

    def __init__(self, path: Path, input_names: list[str]):
        import tvm
        from tvm.runtime.vm import VirtualMachine

        self._tvm = tvm
        self.lib = tvm.runtime.load_module(str(path))
        self.vm = VirtualMachine(self.lib, tvm.cpu())
        self.input_names = input_names

    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return flatten(self.vm["main"](*self._args(inputs)))

    def profile(self, inputs: dict[str, np.ndarray]) -> dict[str, float]:
        """Each kernel's (and VM builtin's) share of one run's time (kernels.profile)."""
        from .kernels import profile

        return profile(self.vm, self._args(inputs))

    def _args(self, inputs):
        # np.ascontiguousarray makes a 0-d array 1-d: a scalar input would reach the VM with the wrong rank.
        return [self._tvm.runtime.tensor(np.require(inputs[n], requirements="C")) for n in self.input_names]


def flatten(result) -> list[np.ndarray]:
    if hasattr(result, "numpy"):
        return [result.numpy()]
    return [array for item in result for array in flatten(item)]
