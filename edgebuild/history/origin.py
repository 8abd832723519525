"""Where a figure comes from: the edgebuild commit (with `-dirty` for local changes) and this host."""

from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path

from .records import Origin

CODE = Path(__file__).resolve().parents[2]  # the checkout holding the edgebuild package


def here(code: Path = CODE) -> Origin:
    return Origin(commit=_commit(code), host=socket.gethostname())


def machine() -> dict[str, str]:
    """This host's architecture and CPU model (recorded with host-side measurements such as bench)."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.split(":")[0].strip() == "model name"), cpu)
    except OSError:
        pass
    return {"host": socket.gethostname(), "machine": platform.machine(), "cpu_model": cpu}


def _commit(code: Path) -> str | None:
    """None when edgebuild does not run from a git checkout (an installed wheel)."""
    try:
        head = subprocess.run(["git", "-C", str(code), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(code), "status", "--porcelain", "--untracked-files=no", "--",
                                "edgebuild"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
