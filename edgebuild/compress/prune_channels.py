"""prune-channels: structured pruning that physically removes channels, then a short fine-tune.

Convolution filters (with their BatchNorm entries and the next layer's input channels) in a
sequential CNN, and feed-forward neurons of every transformer block in a BERT encoder, are ranked
by magnitude. The ratio per layer comes from one global budget: scores are normalised per layer and
ranked together, so layers with many weak channels give up more; each layer keeps at least
`min-keep` of its channels. Smaller tensors mean fewer MACs and faster kernels, not only zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class PruneChannels:
    ratio: float = 0.3  # share of all prunable channels removed
    min_keep: float = 0.25  # no layer keeps fewer than this share of its channels
    fine_tune_steps: int = 200
    learning_rate: float = 1e-3

    def __post_init__(self):
        if not 0 <= self.ratio < 1 or not 0 < self.min_keep <= 1:
            raise ValueError("ratio must be in [0, 1) and min-keep in (0, 1]")


def _keep(scores: list, ratio: float, min_keep: float):
    """Indices kept per layer under one global budget of normalised scores."""
    import torch

    normed = [s / (s.mean() + 1e-12) for s in scores]
    flat = torch.cat(normed)
    drop = int(ratio * flat.numel())
    threshold = flat.kthvalue(drop).values if drop > 0 else flat.min() - 1
    kept = []
    for s in normed:
        idx = (s > threshold).nonzero().flatten()
        floor = max(1, int(round(min_keep * s.numel())))
        if idx.numel() < floor:
            idx = s.topk(floor).indices.sort().values
        kept.append(idx)
    return kept


def _sequential_cnn(net, config: PruneChannels) -> list[tuple[int, int]]:
    import torch.nn as nn

    layers = list(net.children())
    pairs = []  # (producer conv index, bn index or None, consumer index)
    for i, layer in enumerate(layers):
        if not isinstance(layer, nn.Conv2d) or layer.groups != 1:
            continue
        bn = i + 1 if i + 1 < len(layers) and isinstance(layers[i + 1], nn.BatchNorm2d) else None
        j = i + 1
        while j < len(layers) and isinstance(layers[j], (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.MaxPool2d,
                                                          nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout)):
            if isinstance(layers[j], nn.Flatten) and not isinstance(layers[j - 1], nn.AdaptiveAvgPool2d):
                break  # flattening a spatial map ties channels to many features: leave it
            j += 1
        if j < len(layers) and isinstance(layers[j], (nn.Conv2d, nn.Linear)) and not (
                isinstance(layers[j], nn.Conv2d) and layers[j].groups != 1):
            pairs.append((i, bn, j))
    if not pairs:
        raise ModelError("prune-channels found no prunable conv -> conv/linear chain in this network")
    scores = []
    for i, bn, _ in pairs:
        s = layers[i].weight.detach().abs().sum(dim=(1, 2, 3))
        if bn is not None:
            s = s * layers[bn].weight.detach().abs()
        scores.append(s)
    kept = _keep(scores, config.ratio, config.min_keep)
    for (i, bn, j), idx in zip(pairs, kept):
        conv, nxt = layers[i], layers[j]
        _slice(conv, "weight", 0, idx)
        _slice(conv, "bias", 0, idx)
        conv.out_channels = len(idx)
        if bn is not None:
            for name in ("weight", "bias", "running_mean", "running_var"):
                _slice(layers[bn], name, 0, idx)
            layers[bn].num_features = len(idx)
        _slice(nxt, "weight", 1, idx)
        if isinstance(nxt, nn.Conv2d):
            nxt.in_channels = len(idx)
        else:
            nxt.in_features = len(idx)
    return [(int(s.numel()), int(k.numel())) for s, k in zip(scores, kept)]


def _bert_ffn(bert, config: PruneChannels) -> list[tuple[int, int]]:
    blocks = bert.encoder.layer
    scores = [b.intermediate.dense.weight.detach().norm(dim=1) * b.output.dense.weight.detach().norm(dim=0)
              for b in blocks]
    kept = _keep(scores, config.ratio, config.min_keep)
    for block, idx in zip(blocks, kept):
        up, down = block.intermediate.dense, block.output.dense
        _slice(up, "weight", 0, idx)
        _slice(up, "bias", 0, idx)
        up.out_features = len(idx)
        _slice(down, "weight", 1, idx)
        down.in_features = len(idx)
    return [(int(s.numel()), int(k.numel())) for s, k in zip(scores, kept)]


def _slice(layer, name: str, dim: int, idx) -> None:
    import torch

    tensor = getattr(layer, name, None)
    if tensor is None:
        return
    new = tensor.detach().index_select(dim, idx).clone()
    if isinstance(tensor, torch.nn.Parameter):
        setattr(layer, name, torch.nn.Parameter(new, requires_grad=tensor.requires_grad))
    else:
        layer.register_buffer(name, new)


def apply(module, config: PruneChannels, ctx: Context):
    import torch.nn as nn

    bert = getattr(module, "bert", None)
    if bert is not None and hasattr(bert, "encoder"):
        sizes = _bert_ffn(bert, config)
    elif isinstance(module, nn.Sequential):
        sizes = _sequential_cnn(module, config)
    else:
        raise ModelError("prune-channels supports sequential CNNs and BERT encoders; this model is neither")
    ctx.notes["channels"] = [f"{before}->{after}" for before, after in sizes]
    return fine_tune(module, ctx, Schedule(config.fine_tune_steps, config.learning_rate))


TECHNIQUE = Technique("prune-channels", PruneChannels, "torch", apply,
                      "structured pruning: removes conv filters / transformer FFN neurons, then fine-tunes")
