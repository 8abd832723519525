"""cluster: weight sharing (Deep Compression): each layer's weights snap to 2^bits shared values
found by 1-D k-means (linear initialisation, as in the paper). Zeros left by pruning stay exactly
zero (one codebook entry is pinned to 0). The `codebook` graph step then stores each clustered
tensor in model.so as packed indices plus its codebook, and a deploy's transfer is compressed, so
what the indices cost is their entropy, not their width.

`rate-weight` makes the clustering entropy-constrained (Chou, Lookabaugh and Gray, 1989): each
weight goes to the value minimising squared error + rate-weight x (the plain k-means error) x the
value's code length in bits, so rare values give way to frequent ones where that costs little
precision. Measured on MiniLM with the same bits per layer: plain k-means cosine 0.9753 with 10.62 MB
of zlib-compressed indices, rate-weight 1.0 cosine 0.9757 with 10.38 MB. `layers` sets `bits` or `rate-weight` for the modules whose name matches a glob (first
match wins), e.g. more shared values for a transformer's sensitive projections.

`fine-tune-steps` retrains the shared values as the paper does: each weight's assignment stays fixed
(so do the indices and their entropy) and after every optimizer step each shared value becomes the mean
of its weights. (Re-clustering after every step, as this step first did, moved the assignments and cost
a k-means pass over every layer per step.)
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from .base import Context, Technique
from .finetune import Schedule, fine_tune


def _check(where: str, bits: int | None, rate_weight: float | None) -> None:
    if bits is not None and not 1 <= bits <= 8:
        raise ValueError(f"{where}bits: must be 1..8 (indices are packed into bytes)")
    if rate_weight is not None and rate_weight < 0:
        raise ValueError(f"{where}rate-weight: must be >= 0 (0 is plain k-means)")


@dataclass(frozen=True)
class Layer:
    """Settings for the layers a `layers` glob matches; unset keys keep the step's."""

    bits: int | None = None
    rate_weight: float | None = None


@dataclass(frozen=True)
class Cluster:
    bits: int = 4  # 2^bits shared values per layer
    rate_weight: float = 0.0  # > 0: entropy-constrained k-means (see the module's docstring)
    layers: dict[str, Layer] | None = None  # module-name glob -> Layer (first match wins)
    iterations: int = 15
    embeddings: bool = True  # cluster embedding tables too
    min_size: int = 1024  # smaller tensors stay as they are
    fine_tune_steps: int = 0
    learning_rate: float = 2e-4

    def __post_init__(self):
        _check("", self.bits, self.rate_weight)
        for pattern, layer in (self.layers or {}).items():
            _check(f"layers.{pattern}.", layer.bits, layer.rate_weight)

    def for_layer(self, name: str) -> tuple[int, float]:
        """(bits, rate weight) for the module called `name` (as in named_modules())."""
        layer = next((v for k, v in (self.layers or {}).items() if fnmatchcase(name, k)), Layer())
        return (self.bits if layer.bits is None else layer.bits,
                self.rate_weight if layer.rate_weight is None else layer.rate_weight)


def kmeans_1d(values, k: int, iterations: int, rate_weight: float = 0.0):
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
    idx = torch.bucketize(values, edges)
    if rate_weight > 0 and free.numel():
        centroids, idx = _entropy_constrained(values, centroids, idx, rate_weight, iterations)
    return centroids, idx


def _entropy_constrained(values, centroids, idx, rate_weight: float, iterations: int):
    """Refine a k-means solution to minimise error + lambda x code length (lambda scaled by its error)."""
    import torch

    zeros = values == 0
    zero = int(centroids.abs().argmin()) if bool(zeros.any()) else None
    lam = rate_weight * float(((centroids[idx] - values) ** 2).mean())
    for _ in range(iterations):
        counts = torch.bincount(idx, minlength=centroids.numel()).double()
        bits = -torch.log2((counts / values.numel()).clamp(min=1e-12))
        idx = _nearest_with_cost(values, centroids, lam * bits)
        if zero is not None:
            idx[zeros] = zero  # pruned weights stay exactly zero
        sums = torch.zeros_like(centroids).index_add_(0, idx, values)
        counts = torch.bincount(idx, minlength=centroids.numel()).float()
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        if zero is not None:
            centroids[zero] = 0.0
    return centroids, idx


def _nearest_with_cost(values, centroids, cost):
    """argmin over k of (x - c_k)^2 + cost_k for every x, in O(n log k) rather than O(n k).

    Less x^2, which every k shares, each k is the line -2 c_k x + c_k^2 + cost_k; the lowest line
    at x is the answer, and the lower envelope of the lines splits the axis into one interval per
    line on it (the convex hull trick). Ties go to the lower index, as argmin's do. Brute force took
    815 s for MiniLM's 11.7M embedding weights at 256 values on 2 busy cores (2026-11-30)."""
    import torch

    c, extra = centroids.double().tolist(), cost.double().tolist()
    hull: list[int] = []  # indices of the envelope's lines, left to right (rising c)
    starts: list[float] = []  # where each hull line becomes the lowest
    for k in sorted(range(len(c)), key=lambda k: (c[k], extra[k], k)):
        slope, icpt = -2 * c[k], c[k] ** 2 + extra[k]
        if hull and c[hull[-1]] == c[k]:
            continue  # the same value at no less cost (sorted by cost) never wins
        while hull:
            j = hull[-1]
            x = (icpt - (c[j] ** 2 + extra[j])) / (-2 * c[j] - slope)  # where k gets below j
            if x <= starts[-1]:
                hull.pop()
                starts.pop()
            else:
                break
        starts.append(x if hull else float("-inf"))
        hull.append(k)
    edges = torch.tensor(starts[1:], dtype=torch.float64)
    where = torch.bucketize(values.double(), edges)  # x on an edge stays with the lower line
    return torch.tensor(hull, dtype=torch.long)[where]


def clusterable(module, config: Cluster):
    import torch

    kinds = (torch.nn.Conv2d, torch.nn.Linear) + ((torch.nn.Embedding,) if config.embeddings else ())
    return [(n, m) for n, m in module.named_modules() if isinstance(m, kinds) and m.weight.numel() >= config.min_size]


def snap(module, config: Cluster) -> tuple[dict[int, int], list["Shared"]]:
    """Replace every clusterable weight by its nearest shared value; returns ({bits: number of layers},
    each layer's sharing, for fine-tuning)."""
    import torch

    counts: dict[int, int] = {}
    shared: list[Shared] = []
    with torch.no_grad():
        for name, layer in clusterable(module, config):
            w, (bits, rate_weight) = layer.weight, config.for_layer(name)
            centroids, idx = kmeans_1d(w.detach().flatten().float(), 2 ** bits, config.iterations, rate_weight)
            w.copy_(centroids[idx].reshape(w.shape).to(w.dtype))
            counts[bits] = counts.get(bits, 0) + 1
            zero = (centroids == 0).nonzero().flatten()
            shared.append(Shared(w, idx, centroids.numel(), int(zero[0]) if zero.numel() else None))
    return dict(sorted(counts.items())), shared


@dataclass(frozen=True)
class Shared:
    """One clustered weight's assignment, fixed while fine-tuning (Deep Compression's retraining)."""

    weight: object  # the layer's weight tensor
    idx: object  # its shared value's index, per element (flat)
    values: int
    zero: int | None  # the index pinned at exactly 0 (pruned weights), if any

    def share(self) -> None:
        """Each shared value becomes the mean of its weights after an optimizer step: the step's average
        update to them, with the assignment (and so the indices' entropy) unchanged."""
        import torch

        flat = self.weight.view(-1)
        sums = torch.zeros(self.values, dtype=flat.dtype).index_add_(0, self.idx, flat)
        counts = torch.bincount(self.idx, minlength=self.values).clamp(min=1).to(flat.dtype)
        centroids = sums / counts
        if self.zero is not None:
            centroids[self.zero] = 0.0
        flat.copy_(centroids[self.idx])


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
    counts, shared = snap(module, config)
    if config.fine_tune_steps:
        fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate),
                  after_step=lambda: [layer.share() for layer in shared])
    ctx.notes["clustered_layers"] = sum(counts.values())
    ctx.notes["layers_per_bits"] = {str(b): n for b, n in counts.items()}
    return module


TECHNIQUE = Technique("cluster", Cluster, "torch", apply, "k-means weight sharing, 2^bits values per layer")
