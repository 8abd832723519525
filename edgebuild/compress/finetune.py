"""Short, deterministic fine-tuning (seconds to a minute on 2 cores).

What to train on, the loss, and how far a recipe's schedule applies to the model come from the
model (Model.training): digits-cnn trains on its training split, minilm distils its fp32 teacher's
embeddings. Models without training data say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Schedule:
    steps: int
    lr: float
    batch: int = 32
    temperature: float = 4.0  # soft-target temperature when distilling a classifier
    soft_weight: float = 0.7  # share of the soft-target loss (the rest: hard labels)


def fine_tune(student, ctx, schedule: Schedule, teacher=None, after_step: Callable[[], None] | None = None):
    """Train `student` in place for schedule.steps; `after_step` re-imposes constraints (masks, codebooks)."""
    import torch

    if schedule.steps <= 0:
        return student
    task = ctx.model.training(teacher, schedule.batch, schedule.temperature, schedule.soft_weight)
    steps = max(1, int(schedule.steps * task.step_share))
    lr = schedule.lr if task.max_lr is None else min(schedule.lr, task.max_lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same bytes on any machine (reductions split by thread count differ)
    torch.manual_seed(ctx.seed)
    student.train()
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    try:
        for step in range(steps):
            loss = task.loss(student, step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if after_step is not None:
                with torch.no_grad():
                    after_step()
    finally:
        torch.set_num_threads(threads)
        student.eval()
    ctx.notes["fine_tune_steps"] = steps
    return student
