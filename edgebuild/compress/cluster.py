"""cluster: weight sharing (Deep Compression): each layer's weights snap to 2^bits shared values
found by 1-D k-means (linear initialisation, as in the paper). Zeros left by pruning stay exactly
zero (one codebook entry is pinned to 0). The `codebook` graph step then stores each clustered
tensor in model.so as packed k-bit indices plus its codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class Cluster:
    bits: int = 4  # 2^bits shared values per layer
    iterations: int = 15
    embeddings: bool = True  # cluster embedding tables too
    min_size: int = 1024  # smaller tensors stay as they are
    fine_tune_steps: int = 0
    learning_rate: float = 2e-4

    def __post_init__(self):
        if not 1 <= self.bits <= 8:
            raise ValueError("bits: must be 1..8 (indices are packed into bytes)")


def kmeans_1d(values, k: int, iterations: int):
    """(centroids, assignment) of a 1-D tensor; zeros pinned to a centroid of exactly 0 when present."""
    import torch

    pin_zero = bool((values == 0).any())
    free = values[values != 0] if pin_zero else values
    n = k - 1 if pin_zero else k
    centroids = torch.linspace(float(free.min()), float(free.max()), max(n, 1)) if free.numel() else torch.zeros(1)
    for _ in range(iterations):
        edges = (centroids[1:] + centroids[:-1]) / 2
        idx = torch.bucketize(free, edges)
        sums = torch.zeros_like(centroids).index_add_(0, idx, free)
        counts = torch.zeros_like(centroids).index_add_(0, idx, torch.ones_like(free))
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids).sort().values
    if pin_zero:
        centroids = torch.cat([centroids, torch.zeros(1)]).sort().values
    edges = (centroids[1:] + centroids[:-1]) / 2
    return centroids, torch.bucketize(values, edges)


def clusterable(module, config: Cluster):
    import torch

    kinds = (torch.nn.Conv2d, torch.nn.Linear) + ((torch.nn.Embedding,) if config.embeddings else ())
    return [m for m in module.modules() if isinstance(m, kinds) and m.weight.numel() >= config.min_size]


def snap(module, config: Cluster) -> int:
    """Replace every clusterable weight by its nearest shared value; returns the number of layers."""
    import torch

    layers = clusterable(module, config)
    with torch.no_grad():
        for layer in layers:
            w = layer.weight
            centroids, idx = kmeans_1d(w.detach().flatten().float(), 2 ** config.bits, config.iterations)
            w.copy_(centroids[idx].reshape(w.shape).to(w.dtype))
    return len(layers)


def fold_batchnorm(module) -> int:
    """Fold each BatchNorm2d into the Conv2d before it (inference form). Export would fold them anyway,
    rescaling every output channel and so multiplying the number of distinct values per tensor."""
    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for parent in list(module.modules()):
        if not isinstance(parent, torch.nn.Sequential):
            continue
        names = list(parent._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                parent._modules[a] = fuse_conv_bn_eval(conv.eval(), bn.eval())
                parent._modules[b] = torch.nn.Identity()
                folded += 1
    return folded


def apply(module, config: Cluster, ctx: Context):
    ctx.notes["batchnorms_folded"] = fold_batchnorm(module.eval())
    count = snap(module, config)
    if config.fine_tune_steps:
        quick = Cluster(config.bits, 3, config.embeddings, config.min_size)  # re-snap after every step
        fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate), after_step=lambda: snap(module, quick))
    ctx.notes["clustered_layers"] = count
    ctx.notes["values_per_layer"] = 2 ** config.bits
    return module


TECHNIQUE = Technique("cluster", Cluster, "torch", apply, "k-means weight sharing, 2^bits values per layer")
