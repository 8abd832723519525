"""Short, deterministic fine-tuning for the built-in models (seconds to a minute on 2 cores).

digits-cnn trains on its training split (cross-entropy, plus temperature-scaled soft targets when a
teacher is given); minilm learns to reproduce the fp32 teacher's sentence embeddings on built-in
text the metric never scores (embedding distillation). Other models have no training data here:
techniques that need it say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ModelError

MINILM_TRAIN_SEQ = 64  # shorter than the deployed 128: training sentences fit, and steps are 2x faster
# Recipes count steps for a small CNN; a transformer step costs ~100x more, so it gets this share of them
# (at least one) to keep a build within a couple of minutes on 2 cores.
TRANSFORMER_STEP_SHARE = 0.2
# Pretrained transformers are wrecked by CNN-from-scratch learning rates (1e-3 took MiniLM's cosine to 0.8).
TRANSFORMER_MAX_LR = 5e-5


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
    steps, lr = schedule.steps, schedule.lr
    if ctx.model.name == "minilm":
        steps, lr = max(1, int(steps * TRANSFORMER_STEP_SHARE)), min(lr, TRANSFORMER_MAX_LR)
    batches = _task(ctx.model.name, teacher, schedule)
    threads = torch.get_num_threads()
    torch.manual_seed(ctx.seed)
    student.train()
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    try:
        for step in range(steps):
            loss = batches(student, step)
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


def trainable(name: str) -> bool:
    """Whether the model has built-in training data (the seeded speed-only nets do not)."""
    return name in ("digits-cnn", "minilm")


def _task(name: str, teacher, schedule: Schedule):
    if name == "digits-cnn":
        return _digits(teacher, schedule)
    if name == "minilm":
        return _minilm(teacher, schedule)
    raise ModelError(f"model {name!r} has no built-in training data, so this step cannot fine-tune it; "
                     "set fine-tune-steps = 0 in the recipe")


def _digits(teacher, s: Schedule):
    import torch
    import torch.nn.functional as F

    from ..models.digits import _shift, dataset

    x, y, _, _ = dataset()
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    if teacher is not None:
        teacher.eval()

    def loss(student, step):
        idx = torch.randint(0, len(xs), (s.batch,), generator=gen)
        inputs = _shift(xs[idx], gen)
        logits = student(inputs)
        hard = F.cross_entropy(logits, ys[idx])
        if teacher is None:
            return hard
        with torch.no_grad():
            soft_t = F.softmax(teacher(inputs) / s.temperature, dim=1)
        soft = F.kl_div(F.log_softmax(logits / s.temperature, dim=1), soft_t, reduction="batchmean")
        return s.soft_weight * soft * s.temperature ** 2 + (1 - s.soft_weight) * hard

    return loss


def _minilm(teacher, s: Schedule):
    import torch

    from ..models.minilm import METRIC_SENTENCES, encoder, tokenize
    from ..models.texts import SENTENCES

    texts = SENTENCES[METRIC_SENTENCES:]  # never the sentences the metric scores
    tokens = {k: torch.from_numpy(v) for k, v in tokenize(texts, MINILM_TRAIN_SEQ).items()}
    reference = teacher if teacher is not None else encoder()
    with torch.no_grad():
        targets = reference.eval()(tokens["input_ids"], tokens["attention_mask"])
    order = np.random.default_rng(0).permutation(len(texts))
    size = min(s.batch, 16)

    def loss(student, step):
        start = (step * size) % len(order)
        idx = torch.from_numpy(order[start:start + size])
        emb = student(tokens["input_ids"][idx], tokens["attention_mask"][idx])
        return (1 - torch.nn.functional.cosine_similarity(emb, targets[idx], dim=1)).mean()

    return loss
