"""distill: knowledge distillation from the model (teacher) into a smaller student.

The student's shape is given in the recipe: `width` scales every hidden channel of a sequential CNN
(inputs and outputs keep their size), `layers` keeps that many transformer blocks of a BERT
encoder (evenly spaced, initialised from the teacher's). Loss: temperature-scaled soft targets plus
hard labels for classifiers; the teacher's sentence embeddings (cosine) for MiniLM, on built-in
text the metric never scores.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from ..errors import ModelError
from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class Distill:
    width: float = 0.5  # CNN students: hidden channels x width
    layers: int = 0  # transformer students: blocks kept (0: half the teacher's)
    steps: int = 600  # CNN students (a few seconds on digits)
    transformer_steps: int = 300  # BERT students (MiniLM's Training.step_share runs 60 of them)
    learning_rate: float = 3e-3
    temperature: float = 4.0
    soft_weight: float = 0.7

    def __post_init__(self):
        if not 0 < self.width <= 1 or self.layers < 0 or self.steps < 1:
            raise ValueError("width must be in (0, 1], layers >= 0 and steps >= 1")


def _narrow_cnn(teacher, width: float):
    """A copy of a sequential CNN with every hidden channel count scaled by `width` (fresh weights)."""
    import torch
    import torch.nn as nn

    layers = list(teacher.children())
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    if not convs or not isinstance(layers[-1], nn.Linear):
        raise ModelError("distill width: the student is built from a sequential CNN ending in a Linear layer")
    torch.manual_seed(0)
    out, channels = [], None
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            cin = m.in_channels if channels is None else channels
            channels = max(1, int(round(m.out_channels * width)))
            out.append(nn.Conv2d(cin, channels, m.kernel_size, m.stride, m.padding, bias=m.bias is not None))
        elif isinstance(m, nn.BatchNorm2d):
            out.append(nn.BatchNorm2d(channels))
        elif isinstance(m, nn.Linear):
            out.append(nn.Linear(channels, m.out_features))
        else:
            out.append(copy.deepcopy(m))
    return nn.Sequential(*out)


def _shallow_bert(teacher, layers: int):
    import torch

    student = copy.deepcopy(teacher)
    blocks = student.bert.encoder.layer
    keep = layers or max(1, len(blocks) // 2)
    if keep >= len(blocks):
        raise ModelError(f"distill layers = {keep}: the teacher has only {len(blocks)} blocks; choose fewer")
    chosen = [round(i * (len(blocks) - 1) / max(1, keep - 1)) for i in range(keep)] if keep > 1 else [len(blocks) - 1]
    student.bert.encoder.layer = torch.nn.ModuleList([blocks[i] for i in chosen])
    student.bert.config.num_hidden_layers = keep
    return student, chosen


def apply(module, config: Distill, ctx: Context):
    import torch.nn as nn

    teacher = module.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    if hasattr(module, "bert"):
        student, chosen = _shallow_bert(teacher, config.layers)
        for p in student.parameters():
            p.requires_grad_(True)
        ctx.notes["student_layers"] = chosen
    elif isinstance(module, nn.Sequential):
        student = _narrow_cnn(teacher, config.width)
        ctx.notes["student_width"] = config.width
    else:
        raise ModelError("distill supports sequential CNNs (width) and BERT encoders (layers)")
    steps = config.transformer_steps if hasattr(module, "bert") else config.steps  # fine_tune caps the lr
    schedule = Schedule(steps, config.learning_rate, batch=64, temperature=config.temperature,
                        soft_weight=config.soft_weight)
    return fine_tune(student, ctx, schedule, teacher=teacher)


TECHNIQUE = Technique("distill", Distill, "torch", apply, "knowledge distillation into a narrower/shallower student")
