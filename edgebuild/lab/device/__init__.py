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
    """agent.py preceded by the weights-file reader it calls (one script: it is sent over stdin)."""
    return Path(weights.__file__).read_text(encoding="utf-8") + "\n" + source("agent.py")
