"""Runs a compiled model.so on this machine (metrics, reference outputs, benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import weights


def load(path: Path):
    """(main, weights) of a library: call main(*inputs, *weights). The weights file beside the
    library (weights.beside) is mapped, not copied; a library built without one has no weights."""
    import tvm
    from tvm.runtime.vm import VirtualMachine

    vm = VirtualMachine(tvm.runtime.load_module(str(path)), tvm.cpu())
    params = weights.beside(path)
    return vm["main"], (weights.load(params) if os.path.exists(params) else [])


class HostModel:
    """model.so loaded into TVM's Relax VM on the CPU; call with named inputs, get outputs in order."""

    def __init__(self, path: Path, input_names: list[str]):
        import tvm

        self._tvm = tvm
        self.main, self.weights = load(path)
        self.input_names = input_names

    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        args = [self._tvm.runtime.tensor(np.ascontiguousarray(inputs[n])) for n in self.input_names]
        return flatten(self.main(*args, *self.weights))


def flatten(result) -> list[np.ndarray]:
    if hasattr(result, "numpy"):
        return [result.numpy()]
    return [array for item in result for array in flatten(item)]
