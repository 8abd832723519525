"""What every model offers the pipeline, whatever its source (built-in torch model or ONNX file)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..progress import SILENT, Progress

# Runs the compiled graph: named inputs -> outputs in graph order.
Predict = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str, ...]  # a str is a dynamic (named) dimension
    dtype: str

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) and d >= 0 for d in self.shape)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class Training:
    """What fine-tuning (compress/finetune.py) needs from a model: a loss per step, and the model's limits."""

    loss: Callable[[Any, int], Any]  # (student, step) -> scalar loss tensor
    # Recipes count steps and learning rates for a small CNN; a large pretrained model runs this share
    # of the steps and caps the learning rate so that fine-tuning does not wreck it.
    step_share: float = 1.0
    max_lr: float | None = None


class Model(ABC):
    """A model as the build sees it. Construction is cheap: heavy libraries load in `load()`."""

    name: str  # used in build paths and the manifest
    kind: str  # "torch" or "onnx"
    output_names: list[str] | None = None  # names given to exported outputs (ONNX files keep theirs)
    progress: Progress = SILENT  # where making the model (e.g. training it) shows progress; set by the caller

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Manifest entry: name, kind, source, fingerprint."""

    @abstractmethod
    def fingerprint(self) -> str:
        """sha256 of the bytes that define the model (weights, graph)."""

    @abstractmethod
    def inputs(self) -> list[TensorSpec]:
        """Declared inputs; dynamic dims are strings until --input-shape fixes them."""

    @abstractmethod
    def load(self) -> Any:
        """The model object the recipe and exporter work on (torch.nn.Module or onnx.ModelProto)."""

    @abstractmethod
    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        """Fixed inputs of the given static shapes, stored in reference.npz."""

    def calibration_inputs(self, specs: list[TensorSpec], count: int) -> list[dict[str, np.ndarray]]:
        """Up to `count` real input samples of the static shapes (for int8 calibration)."""
        from ..errors import ModelError

        raise ModelError(f"model {self.name!r} has no calibration data; give real samples to calibrate with")

    def metrics(self, predict: Predict, specs: list[TensorSpec], split: str = "all") -> dict[str, float]:
        """Quality metrics of a compiled graph (e.g. accuracy on a held-out split).

        `split` takes part of the metric's samples: "search" and "holdout" are disjoint halves of
        "all" (a recipe search selects on one and reports on the other); gates use "all".
        """
        return {}

    # What a recipe search may vary for this model (compress/space.py): the distill fields of the
    # student shapes it supports, and groups of layers that may get their own settings, each as
    # (label, module-name glob for PyTorch steps, regular expression on exported ONNX node names).
    distill_students: tuple[dict[str, Any], ...] = ()
    layer_groups: tuple[tuple[str, str, str], ...] = ()

    has_training_data = False  # whether `training` gives a loss (the seeded speed-only nets have none)
    has_calibration_data = False  # whether `calibration_inputs` gives real samples

    def training(self, teacher, batch: int, temperature: float, soft_weight: float) -> Training:
        """Fine-tuning batches and loss; with a teacher, the loss distils it (soft targets at `temperature`)."""
        from ..errors import ModelError

        raise ModelError(f"model {self.name!r} has no training data, so this step cannot fine-tune it; "
                         "set fine-tune-steps = 0 in the recipe")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batches(items: np.ndarray, size: int):
    """Fixed-size batches; the last is padded by repeating its final item. Yields (batch, n_real)."""
    for start in range(0, len(items), size):
        chunk = items[start : start + size]
        real = len(chunk)
        if real < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - real, axis=0)])
        yield chunk, real


SPLITS = ("all", "search", "holdout")


def split_indices(count: int, split: str) -> np.ndarray:
    """Indices of a metric's samples in `split`: "search" the even ones, "holdout" the odd ones."""
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: use one of {', '.join(SPLITS)}")
    index = np.arange(count)
    return index if split == "all" else index[(0 if split == "search" else 1)::2]
