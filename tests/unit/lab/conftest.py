import shutil
from pathlib import Path

import pytest

from edgebuild.project import Project

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def lab_project(tmp_path) -> Project:
    """A project with the real targets/ and an empty devices/ folder."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tasks.py").write_text("")
    shutil.copytree(ROOT / "targets", root / "targets")
    (root / "devices").mkdir()
    return Project(root)
