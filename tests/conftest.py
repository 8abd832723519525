import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgebuild.project import Project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture
def tmp_project(tmp_path) -> Project:
    """A copy of the project's data files and tasks.py, to break without touching the real ones."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "tasks.py", root / "tasks.py")
    for folder in ("targets", "recipes"):
        shutil.copytree(ROOT / folder, root / folder)
    # Share the trained-model cache so tests do not retrain digits-cnn per project copy.
    (root / "build").mkdir()
    (root / "build" / ".cache").symlink_to(_shared_cache(), target_is_directory=True)
    return Project(root)


def _shared_cache() -> Path:
    cache = ROOT / "build" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def invoke(root: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` in a project folder, as a user would."""
    # This checkout's edgebuild, even when another checkout is pip-installed in editable mode.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, env=env)
