"""A recipe is data: ordered compression steps plus an accuracy gate, one TOML file in recipes/."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import unknown
from ..project import Project
from ..registry import DataFolder

# Technique name -> apply function; each technique is one module of this package. Empty until the
# techniques land (issue "compression"), so only the empty recipe `none` is valid today.
TECHNIQUES: dict[str, Any] = {}


@dataclass(frozen=True)
class Gate:
    """Limits on the final compiled graph's metric; exceeding one fails the build."""

    max_accuracy_drop: float | None = None  # points of accuracy, for classifiers
    min_cosine_to_fp32: float | None = None  # for embedding models


@dataclass(frozen=True)
class Recipe:
    description: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    gate: Gate | None = None
    name: str = field(default="", metadata={"derived": True})

    def __post_init__(self):
        for i, step in enumerate(self.steps):
            technique = step.get("technique")
            if technique not in TECHNIQUES:
                raise ValueError(f"steps[{i}]: {unknown('technique', str(technique), list(TECHNIQUES))}")


def folder(project: Project) -> DataFolder[Recipe]:
    return DataFolder(project.recipes_dir, Recipe, "recipe")


def load(project: Project, name: str) -> Recipe:
    return folder(project).load(name)


def apply(recipe: Recipe, model):
    """The model after every step of `recipe`, in order."""
    for step in recipe.steps:
        model = TECHNIQUES[step["technique"]](model, step)
    return model
