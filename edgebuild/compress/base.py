"""What every technique is: a typed config, the stage it works on, and one apply function.

Techniques that change a PyTorch module (pruning, low-rank, distillation, QAT fine-tuning,
clustering) run before export; techniques that change the exported ONNX graph (int8, fp16) run
after it, because the artifact-level encoding is what reaches the device. A recipe's torch steps
therefore always come before its onnx steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np

from ..progress import SILENT, Progress

Stage = Literal["torch", "onnx"]


@dataclass(frozen=True)
class Technique:
    name: str
    config: type  # a frozen dataclass validated by edgebuild.schema
    stage: Stage
    apply: Callable[[Any, Any, "Context"], Any]  # (model, config, context) -> model
    summary: str = ""
    # Compiles to int8 integer kernels: the build's speed guard checks such a build beats fp32 (flows/speed_guard.py).
    int8: bool = False


@dataclass
class Context:
    """What a step may use besides the model: the model's data and a place to say what it did.

    `model` is the edgebuild Model (data and metrics), not the object being compressed.
    `notes` collects per-step facts (e.g. the calibration source) for the manifest.
    """

    model: Any
    specs: list
    say: Callable[[str], None] = print
    seed: int = 0
    calibration_source: str | None = None  # --calibration: a .npz path, "random", or None (model's data)
    notes: dict[str, Any] = field(default_factory=dict)
    progress: Progress = SILENT  # long steps (calibration, fine-tuning) report here

    def calibration(self, count: int) -> list[dict[str, np.ndarray]]:
        """Up to `count` input samples of the build's static shapes; their source goes into notes."""
        from .calibration import samples

        return samples(self.model, self.specs, count, self.calibration_source, self.notes)
