"""Where a figure comes from: the edgebuild commit (with `-dirty` for local changes) and this host."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from .records import Origin

CODE = Path(__file__).resolve().parents[2]  # the checkout holding the edgebuild package


def here(code: Path = CODE) -> Origin:
    return Origin(commit=_commit(code), host=socket.gethostname())


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
