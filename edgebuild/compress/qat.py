"""qat: quantization-aware fine-tuning, then the graph's int8 step converts it (recipe qat-int8).

Conv/Linear weights are fake-quantized per output channel and their inputs per tensor (symmetric
int8, the scheme int8-static uses) with straight-through gradients, so training adapts to the
rounding. When training ends the weights are left exactly on their int8 grid, so the following
int8-static step reproduces them without further rounding error.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from .base import Context, Technique
from .finetune import Schedule, fine_tune


@dataclass(frozen=True)
class Qat:
    steps: int = 300
    learning_rate: float = 5e-4
    activations: bool = True  # also fake-quantize layer inputs (per tensor, running max-abs)


def _fake_weight(w):
    import torch

    dims = tuple(range(1, w.dim()))
    scale = (w.detach().abs().amax(dim=dims) / 127).clamp(min=1e-8)
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros_like(scale, dtype=torch.int32), 0, -127, 127)


def apply(module, config: Qat, ctx: Context):
    import torch
    from torch.nn.utils import parametrize

    if not ctx.model.has_training_data:
        raise ModelError("qat fine-tunes on a built-in model's training data; use int8-static for this model")

    class FakeQuant(torch.nn.Module):
        def forward(self, w):
            return _fake_weight(w)

    layers = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    ranges: dict[int, float] = {}

    def act_hook(layer, args):
        x = args[0]
        if not x.is_floating_point():
            return None
        seen = float(x.detach().abs().max())
        ranges[id(layer)] = max(ranges.get(id(layer), 0.0) * 0.9 + seen * 0.1, 1e-8) if id(layer) in ranges else seen
        scale = max(ranges[id(layer)], 1e-8) / 127
        return (torch.fake_quantize_per_tensor_affine(x, scale, 0, -127, 127), *args[1:])

    for layer in layers:
        parametrize.register_parametrization(layer, "weight", FakeQuant())
    hooks = [layer.register_forward_pre_hook(act_hook) for layer in layers] if config.activations else []
    try:
        fine_tune(module, ctx, Schedule(config.steps, config.learning_rate))
    finally:
        for h in hooks:
            h.remove()
        for layer in layers:
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    ctx.notes["fake_quantized_layers"] = len(layers)
    return module


TECHNIQUE = Technique("qat", Qat, "torch", apply, "quantization-aware fine-tuning (fake int8), before int8-static")
