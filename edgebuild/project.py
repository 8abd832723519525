"""Where a project's files live. Everything is relative to the folder holding tasks.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: Path | str | None = None) -> "Project":
        """The nearest folder at or above `start` (default: cwd) that holds tasks.py."""
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "tasks.py").is_file():
                return cls(folder)
        raise ConfigError(f"no tasks.py found in {here} or any parent; run from an edgebuild project")

    @property
    def targets_dir(self) -> Path:
        return self.root / "targets"

    @property
    def recipes_dir(self) -> Path:
        return self.root / "recipes"

    @property
    def tuning_dir(self) -> Path:
        return self.root / "compile" / "tuning"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def cache_dir(self) -> Path:
        """Generated, reusable artifacts (trained models, exports); safe to delete."""
        return self.build_dir / ".cache"

    def default_bundle_dir(self, model: str, recipe: str, target: str) -> Path:
        return self.build_dir / model / recipe / target
