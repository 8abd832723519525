"""lowrank: SVD factorization of Linear layers and of Conv2d (k x k conv to r channels, then 1x1).

A layer W (out x in) becomes two layers of rank r when that saves work: r (in + out) < in * out.
The rank keeps `energy` of the squared singular values, per layer. A Conv2d W (out, in, k, k) is
factored as W ~ U_r (S_r V_r): a k x k conv with r filters followed by a 1x1 conv (channel SVD).
An optional short fine-tune recovers accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class LowRank:
    energy: float = 0.9  # share of squared singular values kept per layer
    max_rank_ratio: float = 0.8  # factor only when r (in + out) <= this * in * out
    min_features: int = 32  # layers smaller than this stay dense
    convolutions: bool = True
    fine_tune_steps: int = 0
    learning_rate: float = 5e-4

    def __post_init__(self):
        if not 0 < self.energy <= 1 or not 0 < self.max_rank_ratio <= 1:
            raise ValueError("energy and max-rank-ratio must be in (0, 1]")


def _rank(s, energy: float) -> int:
    import torch

    cum = torch.cumsum(s ** 2, 0) / (s ** 2).sum()
    return int((cum < energy).sum()) + 1


def _factor(layer, config: LowRank):
    import torch
    import torch.nn as nn

    w = layer.weight.detach()
    out_ch = w.shape[0]
    flat = w.reshape(out_ch, -1)
    if min(flat.shape) < config.min_features:
        return None
    u, s, vh = torch.linalg.svd(flat, full_matrices=False)
    r = _rank(s, config.energy)
    if r * sum(flat.shape) > config.max_rank_ratio * flat.numel():
        return None
    first_w = (s[:r, None] * vh[:r]).contiguous()
    second_w = u[:, :r].contiguous()
    bias = layer.bias.detach().clone() if layer.bias is not None else None
    if isinstance(layer, nn.Linear):
        first, second = nn.Linear(flat.shape[1], r, bias=False), nn.Linear(r, out_ch, bias=bias is not None)
        first.weight.data, second.weight.data = first_w, second_w
    else:
        first = nn.Conv2d(layer.in_channels, r, layer.kernel_size, layer.stride, layer.padding, layer.dilation, bias=False)
        second = nn.Conv2d(r, out_ch, 1, bias=bias is not None)
        first.weight.data = first_w.reshape(r, *w.shape[1:])
        second.weight.data = second_w.reshape(out_ch, r, 1, 1)
    if bias is not None:
        second.bias.data = bias
    return nn.Sequential(first, second), r


def apply(module, config: LowRank, ctx: Context):
    import torch.nn as nn

    kinds = (nn.Linear, nn.Conv2d) if config.convolutions else (nn.Linear,)
    ranks = {}
    for parent_name, parent in list(module.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, kinds) and not (isinstance(child, nn.Conv2d) and child.groups != 1):
                found = _factor(child, config)
                if found is not None:
                    setattr(parent, name, found[0])
                    ranks[f"{parent_name}.{name}".lstrip(".")] = found[1]
    ctx.notes["factored_layers"] = len(ranks)
    ctx.notes["ranks"] = dict(list(ranks.items())[:12])
    return fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate))


TECHNIQUE = Technique("lowrank", LowRank, "torch", apply, "SVD factorization of Linear and Conv2d layers")
