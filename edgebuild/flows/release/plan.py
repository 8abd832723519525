"""Release plans: releases/<name>.toml, one per file, validated by `Plan`.

A plan is data: which models, recipes and targets make up the matrix, which devices profile each
target, which build hosts build it, and the thresholds the regression gates apply against the
previous release. Names are checked against targets/, recipes/ and the model zoo when loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ... import compress, models, targets
from ...errors import ConfigError
from ...project import Project
from ...registry import DataFolder
from ...schema import Where


@dataclass(frozen=True)
class Thresholds:
    """A new bundle past any of these, measured against the previous release's, is refused."""

    max_accuracy_drop: float = 0.5  # percentage points of the `accuracy` metric
    max_cosine_drop: float = 0.005  # of the `cosine_to_fp32` metric
    max_latency_ratio: float = 1.10  # ratio of medians, both bundles timed side by side on one device
    max_memory_ratio: float = 1.20  # the model's own memory (RSS growth from loading and running it)
    max_size_ratio: float = 1.05  # bytes a deploy sends (manifest metrics.transfer_bytes)

    def __post_init__(self):
        for name in ("max_latency_ratio", "max_memory_ratio", "max_size_ratio"):
            if getattr(self, name) < 1.0:
                raise ValueError(f"key 'thresholds.{name.replace('_', '-')}': a ratio below 1.0 refuses "
                                 f"even an unchanged bundle; got {getattr(self, name)}")


@dataclass(frozen=True)
class Profiling:
    """How the side-by-side comparison times each pair of bundles."""

    blocks: int = 4  # alternating blocks per bundle: new, previous, new, previous, ...
    runs: int = 20  # timed runs per block
    warmup: int = 3
    timeout: float = 900.0  # one comparison job, TVM import under emulation included

    def __post_init__(self):
        if self.blocks < 2 or self.runs < 5:
            raise ValueError("key 'profiling': needs blocks >= 2 and runs >= 5 for a median per bundle")


@dataclass(frozen=True)
class Plan:
    description: str
    models: list[str]  # built-in model names, or .onnx paths relative to the project root
    recipes: list[str]
    targets: list[str]
    # target -> device names or tags (devices/) that profile its bundles; targets left out are
    # built and released without profiles, and the release manifest records why.
    devices: dict[str, list[str]] = field(default_factory=dict)
    input_shapes: dict[str, list[str]] = field(default_factory=dict)  # model -> NAME:D1,D2,...
    # model -> int8 calibration samples: FILE.npz (relative to the project) or "random"; default:
    # the model's own data (an ONNX file has none, so an int8 recipe needs an entry for it)
    calibration: dict[str, str] = field(default_factory=dict)
    build_hosts: list[str] = field(default_factory=list)  # device names or tags: an SSH cluster
    thresholds: Thresholds = field(default_factory=Thresholds)
    profiling: Profiling = field(default_factory=Profiling)
    name: str = field(default="", metadata={"derived": True})

    def __post_init__(self):
        for key in ("models", "recipes", "targets"):
            values = getattr(self, key)
            if not values:
                raise ValueError(f"key {key!r}: list at least one")
            if len(set(values)) != len(values):
                raise ValueError(f"key {key!r}: lists a name twice: {values}")
        extra = sorted(set(self.devices) - set(self.targets))
        if extra:
            raise ValueError(f"key 'devices': {extra[0]!r} is not one of the plan's targets {self.targets}")
        for key in ("input_shapes", "calibration"):
            extra = sorted(set(getattr(self, key)) - set(self.models))
            if extra:
                raise ValueError(f"key {key.replace('_', '-')!r}: {extra[0]!r} is not one of the plan's models "
                                 f"{self.models}")

    def labels(self) -> dict[str, str]:
        """model entry -> its folder name in dist/ (a file's stem, so a retrained file keeps its place)."""
        out = {m: (Path(m).stem if m.endswith(".onnx") else m) for m in self.models}
        if len(set(out.values())) != len(out):
            raise ConfigError(f"release plan {self.name!r}: two models share the name {sorted(out.values())}; "
                              "rename one file")
        return out


def folder(project: Project) -> DataFolder[Plan]:
    return DataFolder(project.root / "releases", Plan, "release plan")


def load(project: Project, name: str) -> Plan:
    """The plan, with every model, recipe and target it names checked against the project."""
    plan = folder(project).load(name)
    where = Where(folder(project).path(name))
    plan.labels()
    for i, spec in enumerate(plan.models):
        if spec not in models.BUILTIN and not (project.root / spec).is_file():
            raise where.child("models").child(i).error(
                f"{spec!r} is neither a built-in model ({', '.join(models.BUILTIN)}) nor an .onnx file "
                f"under {project.root}")
    recipes = compress.folder(project).names()
    for i, name_ in enumerate(plan.recipes):
        if name_ not in recipes:
            raise where.child("recipes").child(i).error(f"unknown recipe {name_!r}; valid: {', '.join(recipes)}")
    names = targets.folder(project).names()
    for i, name_ in enumerate(plan.targets):
        if name_ not in names:
            raise where.child("targets").child(i).error(f"unknown target {name_!r}; valid: {', '.join(names)}")
        if targets.load(project, name_).is_native:
            raise where.child("targets").child(i).error(
                f"target {name_!r} compiles for the build machine's own CPU (mcpu = \"native\"), so a rebuild "
                f"elsewhere gives other bytes; release a target that names its CPU (e.g. x86-64-v3)")
    for model, source in plan.calibration.items():
        if source != "random" and not (project.root / source).is_file():
            raise where.child("calibration").child(model).error(
                f"{source!r}: no such file under {project.root}; give an .npz path relative to the project, "
                "or 'random'")
    return plan


def model_path(project: Project, spec: str) -> str:
    """What BuildRequest.model takes: a built-in name, or the file's absolute path."""
    return spec if spec in models.BUILTIN else str((project.root / spec).resolve())
