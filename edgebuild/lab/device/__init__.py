"""Scripts that run on the device with its own Python (sent over SSH, never imported on the host).

probe.py and commit.py use the standard library only (and must run on old Pythons, to refuse them
clearly); agent.py also needs numpy and the TVM runtime that `invoke lab.provision` ships.
"""

from pathlib import Path

from ...compile import weights

HERE = Path(__file__).resolve().parent


def source(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def agent_source() -> str:
    """The on-device agent as one script: the weights-file reader and its helpers first, then agent.py."""
    return Path(weights.__file__).read_text(encoding="utf-8") + "\n" + _joined("parity.py", "sense.py", "serve.py",
                                                                                  "gpu.py", "agent.py")


def pair_source() -> str:
    """The TVM-and-baseline job (pair.py) with the sources of its two engine processes."""
    workers = {"tvm": agent_source(), "onnxruntime": _joined("parity.py", "sense.py", "serve.py", "ort_agent.py")}
    return f"WORKERS = {workers!r}\n" + _joined("sense.py", "pair.py")


def _joined(*names: str) -> str:
    return "\n".join(source(name) for name in names)


def compare_source() -> str:
    """The side-by-side timing script (compare.py) after the weights-file reader, parity and device choice it calls."""
    return Path(weights.__file__).read_text(encoding="utf-8") + "\n" + _joined("parity.py", "gpu.py", "compare.py")
