"""prune-channels: structured pruning that physically removes channels, then a short fine-tune.

In a CNN, channels are pruned by dependency group (channel_groups.py: channels tied by residual
adds, laid side by side by concats, passed through BatchNorm and depthwise convs are removed
together, by their summed importance); in a BERT encoder, the feed-forward neurons of every block.
The ratio per group comes from one global budget: scores are normalised per group and ranked
together, so groups with many weak channels give up more; each keeps at least `min-keep` of its
channels. Smaller tensors mean fewer MACs and faster kernels, not only zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from .base import Context, Technique
from .channel_groups import analyse, remove, slice_param
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class PruneChannels:
    ratio: float = 0.3  # share of all prunable channels removed
    min_keep: float = 0.25  # no layer keeps fewer than this share of its channels
    channel_multiple: int = 16  # kept counts are rounded to this (SIMD width: odd counts defeat vector kernels)
    fine_tune_steps: int = 200
    learning_rate: float = 1e-3

    def __post_init__(self):
        if not 0 <= self.ratio < 1 or not 0 < self.min_keep <= 1:
            raise ValueError("ratio must be in [0, 1) and min-keep in (0, 1]")
        if self.channel_multiple < 1:
            raise ValueError("channel-multiple: must be >= 1")


def _keep(scores: list, ratio: float, min_keep: float, multiple: int = 1):
    """Indices kept per group under one global budget of normalised scores, `multiple` at a time."""
    import torch

    normed = [s / (s.mean() + 1e-12) for s in scores]
    flat = torch.cat(normed)
    drop = int(ratio * flat.numel())
    threshold = flat.kthvalue(drop).values if drop > 0 else flat.min() - 1
    kept = []
    for s in normed:
        count = max(int((s > threshold).sum()), 1, int(round(min_keep * s.numel())))
        step = multiple
        while step > 1 and step >= s.numel():  # narrow groups: half-width vectors
            step //= 2
        # vector-friendly widths: odd counts leave SIMD lanes idle or scalar
        count = min(s.numel(), max(step, step * round(count / step)))
        kept.append(s.topk(count).indices.sort().values)
    return kept


def _cnn(net, config: PruneChannels, example: tuple) -> list[tuple[int, int]]:
    """Prune the channel groups of any traceable CNN (residual adds, concats, depthwise convs)."""
    groups = analyse(net, example)
    scores = groups.importance()
    roots = [r for r in groups.roots() if r in scores and groups.sizes[r] > 1]
    if not roots:
        raise ModelError("prune-channels found no prunable channel group (conv/linear outputs that do not "
                         "reach the network's output) in this network")
    kept = _keep([scores[r] for r in roots], config.ratio, config.min_keep, config.channel_multiple)
    remove(groups, dict(zip(roots, kept)))
    return [(int(scores[r].numel()), int(k.numel())) for r, k in zip(roots, kept)]


def _bert_ffn(bert, config: PruneChannels) -> list[tuple[int, int]]:
    blocks = bert.encoder.layer
    scores = [b.intermediate.dense.weight.detach().norm(dim=1) * b.output.dense.weight.detach().norm(dim=0)
              for b in blocks]
    kept = _keep(scores, config.ratio, config.min_keep, config.channel_multiple)
    for block, idx in zip(blocks, kept):
        up, down = block.intermediate.dense, block.output.dense
        slice_param(up, "weight", 0, idx)
        slice_param(up, "bias", 0, idx)
        up.out_features = len(idx)
        slice_param(down, "weight", 1, idx)
        down.in_features = len(idx)
    return [(int(s.numel()), int(k.numel())) for s, k in zip(scores, kept)]


def apply(module, config: PruneChannels, ctx: Context):
    import torch

    bert = getattr(module, "bert", None)
    if bert is not None and hasattr(bert, "encoder"):
        sizes = _bert_ffn(bert, config)
    else:
        sizes = _cnn(module, config, tuple(torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in ctx.specs))
    ctx.notes["channels"] = [f"{before}->{after}" for before, after in sizes]
    if config.fine_tune_steps and not ctx.model.has_training_data:
        ctx.notes["fine_tune"] = "skipped: this model has no training data (seeded weights, for speed work)"
        return module
    return fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate))


TECHNIQUE = Technique("prune-channels", PruneChannels, "torch", apply,
                      "structured pruning: removes conv filters / transformer FFN neurons, then fine-tunes")
