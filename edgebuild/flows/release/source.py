"""Which source a release comes from: the project's git commit (a dirty worktree is refused, since
the provenance names a commit) and the edgebuild code that built it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ... import __version__
from ...errors import ReleaseRefused


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def project_source(root: Path) -> dict:
    head = _git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        raise ReleaseRefused(f"{root} is not a git checkout with a commit: a release's provenance names the "
                             f"commit it was built from; `git init` and commit the project first")
    dirty = _git(root, "status", "--porcelain", "--untracked-files=normal").stdout.splitlines()
    if dirty:
        shown = "\n  ".join(dirty[:10]) + ("\n  ..." if len(dirty) > 10 else "")
        raise ReleaseRefused(f"the worktree {root} has uncommitted changes; a release names the commit it was "
                             f"built from, so commit or stash them first:\n  {shown}")
    return {"path": str(root), "commit": head.stdout.strip()}


def edgebuild_source() -> dict:
    """The edgebuild package's version, and its commit when it runs from a git checkout."""
    here = Path(__file__).resolve().parents[3]
    head = _git(here, "rev-parse", "HEAD")
    if head.returncode != 0:
        return {"version": __version__}
    dirty = bool(_git(here, "status", "--porcelain", "--untracked-files=no", "--", "edgebuild").stdout.strip())
    return {"version": __version__, "commit": head.stdout.strip(), "dirty": dirty}
