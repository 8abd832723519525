"""lowrank: SVD factorization of Linear layers, and of Conv2d by channel SVD or Tucker-2.

A Linear W (out x in) becomes two layers of rank r: in -> r -> out. A Conv2d W (out, in, k, k) is
factored either by channel SVD (a k x k conv to r channels, then a 1x1 conv) or, with
`conv-factorization = "tucker2"`, by Tucker-2 (HOSVD of the two channel modes): a 1x1 conv
in -> r_in, a k x k core conv r_in -> r_out, a 1x1 conv r_out -> out. 1x1 convs always use SVD.

Ranks come from one of two rules:
- `energy`: per layer (and per mode), the smallest rank keeping that share of the squared singular
  values;
- `params-budget`: one number for the whole network. Every factorable layer starts at rank 1; rank
  components are then added greedily, the one with the most singular-value energy (as a share of
  its layer's) per parameter it costs first, until the factorable layers hold `params-budget` of
  their dense parameter count. A layer whose factors would cost more than `max-rank-ratio` of its
  dense weights is kept dense (the greedy pays the difference as one step).
Ranks are rounded to whole multiples of `rank-multiple` (default 16): MiniLM factored at odd ranks
ran at 0.29x the dense build's speed. A layer is factorable when its smallest dimension is at least
`min-features`. An optional short fine-tune recovers accuracy.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class LowRank:
    energy: float = 0.9  # share of squared singular values kept per layer (without params-budget)
    params_budget: float | None = None  # share of the factorable layers' parameters kept, network-wide
    conv_factorization: Literal["channel", "tucker2"] = "channel"
    max_rank_ratio: float = 0.8  # factor only when the factors cost <= this share of the dense weights
    min_features: int = 32  # layers with a dimension smaller than this stay dense
    rank_multiple: int = 16  # ranks are whole multiples of this: odd widths defeat the vector micro-kernel
    convolutions: bool = True
    fine_tune_steps: int = 0
    learning_rate: float = 5e-4

    def __post_init__(self):
        if not 0 < self.energy <= 1 or not 0 < self.max_rank_ratio <= 1:
            raise ValueError("energy and max-rank-ratio must be in (0, 1]")
        if self.params_budget is not None and not 0 < self.params_budget < 1:
            raise ValueError("params-budget: must be in (0, 1), the share of factorable parameters kept")
        if self.rank_multiple < 1:
            raise ValueError("rank-multiple: must be >= 1")


class _Plan:
    """One factorable layer: the spectra of its modes and the parameter cost of a choice of ranks."""

    def __init__(self, parent, name: str, layer, tucker: bool):
        import torch

        self.parent, self.name, self.layer = parent, name, layer
        w = layer.weight.detach()
        self.tucker = tucker
        if tucker:  # modes: output channels, input channels
            unfolded = [w.reshape(w.shape[0], -1), w.transpose(0, 1).reshape(w.shape[1], -1)]
        else:
            unfolded = [w.reshape(w.shape[0], -1)]
        self.svds = [torch.linalg.svd(u, full_matrices=False) for u in unfolded]
        self.energies = [(s ** 2 / (s ** 2).sum()).tolist() for _, s, _ in self.svds]
        self.dense = w.numel()

    def cost(self, ranks: list[int]) -> int:
        w = self.layer.weight
        if self.tucker:
            (r_out, r_in), (out_ch, in_ch, kh, kw) = ranks, w.shape
            return in_ch * r_in + r_out * r_in * kh * kw + r_out * out_ch
        return ranks[0] * (w.shape[0] + w[0].numel())

    def energy_ranks(self, energy: float, multiple: int) -> list[int]:
        ranks = [sum(1 for c in _cumulative(e) if c < energy) + 1 for e in self.energies]
        return [min(len(e), max(multiple, multiple * round(r / multiple))) for e, r in zip(self.energies, ranks)]


def _cumulative(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def _budget_ranks(plans: list[_Plan], budget: float, max_rank_ratio: float,
                  multiple: int = 1) -> list[list[int] | None]:
    """Greedy global ranks, `multiple` components at a time: most energy per parameter first, until
    the budget; None means dense."""
    ranks = [[min(multiple, len(e)) for e in p.energies] for p in plans]
    dense = [False] * len(plans)
    total = sum(p.cost(r) for p, r in zip(plans, ranks))
    limit = budget * sum(p.dense for p in plans)
    heap = []

    def push(i):
        p, r = plans[i], ranks[i]
        best = None
        for mode, e in enumerate(p.energies):
            if r[mode] >= len(e):
                continue
            grown = r[:mode] + [min(len(e), r[mode] + multiple)] + r[mode + 1:]
            gain, delta = sum(e[r[mode]:grown[mode]]) / len(r), p.cost(grown) - p.cost(r)
            if p.cost(grown) > max_rank_ratio * p.dense:  # past this, the layer stays dense
                gain = 1 - sum(sum(m[:k]) for m, k in zip(p.energies, r)) / len(r)
                mode, delta = None, p.dense - p.cost(r)
            if best is None or gain / max(delta, 1) > best[0]:
                best = (gain / max(delta, 1), mode, delta)
        if best is not None:
            heapq.heappush(heap, (-best[0], i, best[1], best[2]))

    for i in range(len(plans)):
        push(i)
    while heap:
        _, i, mode, delta = heapq.heappop(heap)
        if total + delta > limit:
            continue  # this layer cannot grow within the budget; others still may
        total += delta
        if mode is None:
            dense[i] = True
            continue
        ranks[i][mode] = min(len(plans[i].energies[mode]), ranks[i][mode] + multiple)
        push(i)
    return [None if d else r for r, d in zip(ranks, dense)]


def _factored(plan: _Plan, ranks: list[int]):
    """The layer as a Sequential of its factors at `ranks`."""
    import torch
    import torch.nn as nn

    layer, w = plan.layer, plan.layer.weight.detach()
    bias = layer.bias.detach().clone() if layer.bias is not None else None
    u, s, vh = plan.svds[0]
    if plan.tucker:
        r_out, r_in = ranks
        u_out, u_in = u[:, :r_out], plan.svds[1][0][:, :r_in]
        core = torch.einsum("oikl,or,is->rskl", w, u_out, u_in)
        convs = [nn.Conv2d(layer.in_channels, r_in, 1, bias=False),
                 nn.Conv2d(r_in, r_out, layer.kernel_size, layer.stride, layer.padding, layer.dilation, bias=False),
                 nn.Conv2d(r_out, layer.out_channels, 1, bias=bias is not None)]
        weights = [u_in.T.reshape(r_in, -1, 1, 1), core, u_out.reshape(-1, r_out, 1, 1)]
    else:
        r = ranks[0]
        first_w, second_w = s[:r, None] * vh[:r], u[:, :r]
        if isinstance(layer, nn.Linear):
            convs = [nn.Linear(w.shape[1], r, bias=False), nn.Linear(r, w.shape[0], bias=bias is not None)]
            weights = [first_w, second_w]
        else:
            convs = [nn.Conv2d(layer.in_channels, r, layer.kernel_size, layer.stride, layer.padding,
                               layer.dilation, bias=False), nn.Conv2d(r, w.shape[0], 1, bias=bias is not None)]
            weights = [first_w.reshape(r, *w.shape[1:]), second_w.reshape(w.shape[0], r, 1, 1)]
    for conv, weight in zip(convs, weights):
        conv.weight.data = weight.contiguous().clone()
    if bias is not None:
        convs[-1].bias.data = bias
    return nn.Sequential(*convs)


def plans(module, config: LowRank) -> list[_Plan]:
    """Every layer this config may factor, in module order."""
    import torch.nn as nn

    kinds = (nn.Linear, nn.Conv2d) if config.convolutions else (nn.Linear,)
    found = []
    for parent_name, parent in module.named_modules():
        for name, child in parent.named_children():
            if not isinstance(child, kinds) or (isinstance(child, nn.Conv2d) and child.groups != 1):
                continue
            w = child.weight
            tucker = (config.conv_factorization == "tucker2" and isinstance(child, nn.Conv2d)
                      and w.shape[2] * w.shape[3] > 1)
            smallest = min(w.shape[:2]) if tucker else min(w.shape[0], w[0].numel())
            if smallest >= config.min_features:
                found.append(_Plan(parent, f"{parent_name}.{name}".lstrip("."), child, tucker))
    return found


def apply(module, config: LowRank, ctx: Context):
    todo = plans(module, config)
    if config.params_budget is not None:
        chosen = _budget_ranks(todo, config.params_budget, config.max_rank_ratio, config.rank_multiple)
    else:
        chosen = [p.energy_ranks(config.energy, config.rank_multiple) for p in todo]
        chosen = [r if p.cost(r) <= config.max_rank_ratio * p.dense else None for p, r in zip(todo, chosen)]
    ranks = {}
    for plan, r in zip(todo, chosen):
        if r is not None:
            setattr(plan.parent, plan.name.rsplit(".", 1)[-1], _factored(plan, r))
            ranks[plan.name] = r[0] if len(r) == 1 else r
    dense = sum(p.dense for p in todo)
    kept = sum(p.cost(r) if r is not None else p.dense for p, r in zip(todo, chosen))
    ctx.notes["factored_layers"] = len(ranks)
    ctx.notes["factorable_params_kept"] = round(kept / dense, 4) if dense else 1.0
    ctx.notes["ranks"] = dict(list(ranks.items())[:12])
    return fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate))


TECHNIQUE = Technique("lowrank", LowRank, "torch", apply,
                      "SVD of Linear layers; channel SVD or Tucker-2 of Conv2d; ranks by energy or one params budget")
