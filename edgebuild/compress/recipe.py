"""A recipe is data: ordered compression steps plus an accuracy gate, one TOML file in recipes/.

Each step is a table with a `technique` key and that technique's typed fields; the typed config is
validated when the recipe loads, so a typo fails before any slow work. The raw tables are kept as
they were written so a recipe dumps back to exactly its file. `[models.NAME]` and `[targets.NAME]`
tables override the steps or gate for one model or one target, or refuse it with a reason; a
build applies the model's override first, then the target's. A model's table may carry its own
`[models.NAME.targets.TARGET]` tables (e.g. refuse int8 where it measured slower for that model),
which replace the recipe's for that target. `speed-guard` says what a build does when its int8 bundle
is not faster than the fp32 build of the same model and target (flows/speed_guard.py).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .. import schema
from ..errors import ConfigError, LookupFailed
from ..project import Project
from ..registry import DataFolder
from .registry import lookup, techniques


@dataclass(frozen=True)
class Gate:
    """Limits on the final compiled graph's metric; exceeding one fails the build."""

    max_accuracy_drop: float | None = None  # points of accuracy, for classifiers
    min_cosine_to_fp32: float | None = None  # for embedding models

    def __post_init__(self):
        bounds = (("max-accuracy-drop", self.max_accuracy_drop), ("min-cosine-to-fp32", self.min_cosine_to_fp32))
        for key, value in bounds:
            if value is not None and not math.isfinite(value):
                raise ValueError(f"gate.{key}: must be a finite number, got {value}")
        if self.max_accuracy_drop is not None and self.max_accuracy_drop < 0:
            raise ValueError("gate.max-accuracy-drop: must be >= 0 (points of accuracy)")
        if self.min_cosine_to_fp32 is not None and not -1 <= self.min_cosine_to_fp32 <= 1:
            raise ValueError("gate.min-cosine-to-fp32: must be between -1 and 1")


@dataclass(frozen=True)
class Override:
    """Per-model or per-target changes: replace the steps and/or the gate, or refuse the model/target."""

    steps: list[dict[str, Any]] | None = None
    gate: Gate | None = None
    refuse: str | None = None  # why this recipe must not be built for the model/target
    targets: dict[str, "Override"] | None = None  # in a model's override only: that model's target overrides


SpeedGuard = Literal["warn", "refuse", "off"]


@dataclass(frozen=True)
class Recipe:
    description: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    gate: Gate | None = None
    # int8 recipes only: "warn" (unset means warn), "refuse" (the build exits non-zero), or "off"
    speed_guard: SpeedGuard | None = None
    models: dict[str, Override] | None = None
    targets: dict[str, Override] | None = None
    name: str = field(default="", metadata={"derived": True})
    target: str | None = field(default=None, metadata={"derived": True})  # set by for_target
    model: str | None = field(default=None, metadata={"derived": True})  # set by for_model

    def __post_init__(self):
        configs(self.steps, "steps")
        nested = [(f"models.{m}.targets.{t}", o) for m, mo in (self.models or {}).items()
                  for t, o in (mo.targets or {}).items()]
        plain = [(f"targets.{t}", o) for t, o in (self.targets or {}).items()] + nested
        overrides = [(f"models.{m}", o) for m, o in (self.models or {}).items()] + plain
        for where, override in overrides:
            if override.steps is not None:
                configs(override.steps, f"{where}.steps")
        for where, override in plain:
            if override.targets:
                raise ValueError(f"{where}.targets: only a model's table ([models.NAME]) has per-target tables")
        steps = [self.steps] + [o.steps for _, o in overrides if o.steps]
        if self.speed_guard is not None and not any(_int8(s) for s in steps):
            names = ", ".join(sorted(t.name for t in techniques().values() if t.int8))
            raise ValueError(f"speed-guard: applies only to recipes with an int8 step ({names}); remove the key")

    @property
    def int8(self) -> bool:
        """Whether a step compiles to int8 kernels: then a build checks that it beats fp32 (the speed guard)."""
        return _int8(self.steps)

    @property
    def guard(self) -> str:
        return self.speed_guard or "warn"

    @property
    def configs(self) -> list[Any]:
        """The typed config of every step, in order."""
        return configs(self.steps, "steps")

    def for_target(self, target: str) -> "Recipe":
        """This recipe as built for `target`: its override applied, or a refusal with the reason."""
        return self._override("target", target, (self.targets or {}).get(target))

    def for_model(self, model: str) -> "Recipe":
        """This recipe as applied to `model` (a model's name): its override applied, or a refusal."""
        return self._override("model", model, (self.models or {}).get(model))

    def _override(self, kind: str, name: str, override: Override | None) -> "Recipe":
        if override is None:
            return replace(self, **{kind: name})
        if override.refuse:
            raise LookupFailed(f"recipe {self.name!r} refuses {kind} {name!r}: {override.refuse}")
        targets = {**(self.targets or {}), **(override.targets or {})} or None
        return replace(self, steps=override.steps if override.steps is not None else self.steps,
                       gate=override.gate or self.gate, targets=targets, **{kind: name})


class _Key(schema.Where):
    """Where inside a recipe's steps: errors are ValueErrors that schema.build prefixes with the file."""

    def child(self, key):
        return _Key(self.path, schema.Where(self.path, self.key).child(key).key)

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.key}: {message}")


def configs(steps: list[dict[str, Any]], where: str) -> list[Any]:
    """Typed configs of `steps`; a ValueError names the step, key and valid choices."""
    out, stages = [], []
    for i, step in enumerate(steps):
        key = f"{where}[{i}]"
        name = step.get("technique")
        try:
            technique = lookup(str(name))
        except LookupFailed as exc:
            raise ValueError(f"{key}: {exc}") from None
        fields = {k: v for k, v in step.items() if k != "technique"}
        config = schema.build(technique.config, fields, _Key(Path(), key))
        _check_schedule(config, key)
        out.append(config)
        stages.append(technique.stage)
    if stages != sorted(stages, key=("torch", "onnx").index):
        graph = sorted(t.name for t in techniques().values() if t.stage == "onnx")
        raise ValueError(f"{where}: graph steps ({', '.join(graph)}) work on the exported graph and must come "
                         "after every PyTorch step; reorder the steps")
    return out


def _check_schedule(config: Any, key: str) -> None:
    """Fine-tune schedules, whichever technique carries them: steps >= 0, a learning rate > 0."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        toml = field.name.replace("_", "-")
        if field.name.endswith("steps") and isinstance(value, int) and value < 0:
            raise ValueError(f"{key}.{toml}: must be >= 0, got {value}")
        rate = field.name in ("learning_rate", "lr") and isinstance(value, float)
        if rate and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{key}.{toml}: must be > 0, got {value}")


def _int8(steps: list[dict[str, Any]]) -> bool:
    return any(technique_of(c).int8 for c in configs(steps, "steps"))


def technique_of(config: Any):
    return next(t for t in techniques().values() if isinstance(config, t.config))


def folder(project: Project) -> DataFolder[Recipe]:
    return DataFolder(project.recipes_dir, Recipe, "recipe")


def load(project: Project, name: str) -> Recipe:
    return folder(project).load(name)


def resolve(project: Project, name: str) -> tuple[Recipe, Path]:
    """(recipe, its file): `name` is a recipe of recipes/, or the path of a recipe file elsewhere (*.toml)."""
    if not name.endswith(".toml"):
        return load(project, name), folder(project).path(name)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"--recipe={name}: no such recipe file; give a recipe name ({', '.join(folder(project).names())}) "
                          "or the path of an existing .toml recipe")
    return schema.build(Recipe, schema.load_toml(path), schema.Where(path), name=path.stem), path


def dump(recipe: Recipe) -> dict[str, Any]:
    """The TOML-shaped data of a recipe (its file's data, for the golden round-trip test)."""
    return schema.dump(recipe)


__all__ = ["ConfigError", "Gate", "Override", "Recipe", "configs", "dump", "folder", "load", "resolve", "technique_of"]
