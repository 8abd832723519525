"""prune: unstructured magnitude pruning of Conv/Linear weights to a target sparsity.

The zeros stay in the dense weights, so the kernels are unchanged; what shrinks is what a deploy
transfers (runs of zeros compress), and the manifest counts non-zero parameters. With
`sparse-kernel-above`, matmuls (Linear layers) at least that sparse are compiled to a CSR kernel
that stores and multiplies only the non-zeros; it pays off from about 75% zeros on this host. `scope = "global"`
ranks all weights together (layers that matter less lose more), `"layer"` prunes each layer alike.
An optional short fine-tune keeps the zeros (masks are re-applied after every step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class Prune:
    sparsity: float = 0.5
    scope: Literal["global", "layer"] = "global"
    fine_tune_steps: int = 0
    learning_rate: float = 1e-3
    # Matmuls whose weight is at least this sparse run a CSR kernel (edgebuild/compile/sparse.py);
    # measured crossover on this host ~75% zeros (below it edgebuild's dense kernel wins), so off by default.
    sparse_kernel_above: float | None = None

    def __post_init__(self):
        if not 0 <= self.sparsity < 1:
            raise ValueError("sparsity: must be in [0, 1)")
        if self.sparse_kernel_above is not None and not 0 < self.sparse_kernel_above <= 1:
            raise ValueError("sparse-kernel-above: must be in (0, 1], the share of zeros from which a "
                             "matmul runs the sparse kernel")


def prunable(module):
    """(name, layer) of every Conv2d/Linear; embedding tables and norms are left dense."""
    import torch

    return [(n, m) for n, m in module.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def masks(module, sparsity: float, scope: str):
    import torch

    layers = prunable(module)
    if scope == "global":
        scores = torch.cat([m.weight.detach().abs().flatten() for _, m in layers])
        k = int(sparsity * scores.numel())
        threshold = scores.kthvalue(k).values if k > 0 else scores.min() - 1
        return {n: (m.weight.detach().abs() > threshold) for n, m in layers}
    out = {}
    for n, m in layers:
        w = m.weight.detach().abs().flatten()
        k = int(sparsity * w.numel())
        threshold = w.kthvalue(k).values if k > 0 else w.min() - 1
        out[n] = m.weight.detach().abs() > threshold
    return out


def apply(module, config: Prune, ctx: Context):
    import torch

    found = masks(module, config.sparsity, config.scope)
    layers = dict(prunable(module))

    def enforce():
        for name, mask in found.items():
            layers[name].weight.mul_(mask)

    with torch.no_grad():
        enforce()
    fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate), after_step=enforce)
    kept = sum(int(m.sum()) for m in found.values())
    total = sum(m.numel() for m in found.values())
    ctx.notes["sparsity"] = round(1 - kept / total, 4)
    return module


TECHNIQUE = Technique("prune", Prune, "torch", apply, "unstructured magnitude pruning (zeros shrink the transfer)")
