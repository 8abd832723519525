"""Helpers shared by the graph (ONNX) techniques."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path


class _Out:
    def __init__(self, path: Path):
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def load(self):
        import onnx

        return onnx.load(str(self.path))


@contextlib.contextmanager
def quantizer_io(proto):
    """(input path holding `proto`, output path) in a scratch folder: ORT's quantizer works on files."""
    import onnx

    with tempfile.TemporaryDirectory(prefix="edgebuild-quant-") as tmp:
        src = Path(tmp) / "in.onnx"
        onnx.save(proto, str(src))
        yield src, _Out(Path(tmp) / "out.onnx")


@contextlib.contextmanager
def ort_quiet():
    """ORT's quantizer logs advice meant for its own x86 kernels; our lowering is not those kernels."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def session(proto):
    """An ONNX Runtime CPU session of `proto` (per-step metrics of graph techniques)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def ort_errors() -> tuple[type, ...]:
    """The exceptions ONNX Runtime raises for a graph it cannot load or run."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))
