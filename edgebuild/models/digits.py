"""digits-cnn: the embedded default model, a small CNN trained here on scikit-learn's digits.

Training is deterministic (fixed seeds, one thread, fixed split) and takes seconds; the weights are
cached (see zoo.py).
"""

from __future__ import annotations

import numpy as np

from ..progress import SILENT, Progress
from .base import Predict, TensorSpec, Training, batches, split_indices
from .zoo import CachedTorchModel

NAME = "digits-cnn"
INPUT = "image"  # 8x8 grey levels scaled to [0, 1]
TEST_SIZE = 500  # fixed held-out split used for `accuracy`
SPLIT_SEED = 0
EPOCHS = 40


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): images N x 1 x 8 x 8 float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    test, train = order[:TEST_SIZE], order[TEST_SIZE:]
    return x[train], y[train], x[test], y[test]


def network():
    import torch.nn as nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(1, 16),
        *block(16, 32),
        nn.MaxPool2d(2),
        *block(32, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


def _shift(x, generator):
    """Random translation by up to one pixel: cheap augmentation that helps on 8x8 digits."""
    import torch

    dx, dy = torch.randint(-1, 2, (2,), generator=generator).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train(progress: Progress = SILENT) -> dict[str, np.ndarray]:
    """Train from scratch; returns the state dict as numpy arrays."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-exact reductions across runs
    try:
        torch.manual_seed(0)
        net = network()
        x_train, y_train, _, _ = dataset()
        xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train)
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
        gen = torch.Generator().manual_seed(0)
        net.train()
        with progress.task(f"training {NAME}", total=EPOCHS, unit="epochs") as shown:
            for _ in range(EPOCHS):
                order = torch.randperm(len(xs), generator=gen)
                for start in range(0, len(order), 64):
                    idx = order[start : start + 64]
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(net(_shift(xs[idx], gen)), ys[idx])
                    loss.backward()
                    opt.step()
                sched.step()
                shown.advance()
        return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    finally:
        torch.set_num_threads(threads)


class DigitsCNN(CachedTorchModel):
    name = NAME
    output_names = ["logits"]
    weight_packages = ("torch", "numpy", "scikit-learn")

    def network(self):
        return network()

    def make_weights(self) -> dict[str, np.ndarray]:
        return train(self.progress)

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec(INPUT, (1, 1, 8, 8), "float32")]

    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        batch = specs[0].shape[0]
        _, _, x_test, _ = dataset()
        return {INPUT: x_test[:batch]}

    calibration_source = "digits training split"

    def calibration_inputs(self, specs: list[TensorSpec], count: int) -> list[dict[str, np.ndarray]]:
        """Training images only: the held-out split that scores accuracy never calibrates."""
        batch = specs[0].shape[0]
        x_train, _, _, _ = dataset()
        return [{INPUT: chunk} for chunk, _ in batches(x_train[: count * batch], batch)][:count]

    distill_students = ({"width": 0.5}, {"width": 0.75})

    def metrics(self, predict: Predict, specs: list[TensorSpec], split: str = "all") -> dict[str, float]:
        """Top-1 accuracy (%) on the fixed held-out split of 500 images (or half of it, see Model.metrics)."""
        _, _, x_test, y_test = dataset()
        keep = split_indices(len(y_test), split)
        x_test, y_test = x_test[keep], y_test[keep]
        predicted = []
        for chunk, real in batches(x_test, specs[0].shape[0]):
            predicted.append(predict({INPUT: chunk})[0][:real].argmax(axis=1))
        accuracy = float((np.concatenate(predicted) == y_test).mean() * 100.0)
        return {"accuracy": round(accuracy, 2), "accuracy_samples": len(y_test)}

    has_training_data = True
    has_calibration_data = True

    def training(self, teacher, batch: int, temperature: float, soft_weight: float) -> Training:
        """Cross-entropy on the training split (shifted), plus temperature-scaled soft targets of a teacher."""
        import torch
        import torch.nn.functional as F

        x, y, _, _ = dataset()
        xs, ys = torch.from_numpy(x), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(0)
        if teacher is not None:
            teacher.eval()

        def loss(student, step):
            idx = torch.randint(0, len(xs), (batch,), generator=gen)
            inputs = _shift(xs[idx], gen)
            logits = student(inputs)
            hard = F.cross_entropy(logits, ys[idx])
            if teacher is None:
                return hard
            with torch.no_grad():
                soft_t = F.softmax(teacher(inputs) / temperature, dim=1)
            soft = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft_t, reduction="batchmean")
            return soft_weight * soft * temperature ** 2 + (1 - soft_weight) * hard

        return Training(loss)
