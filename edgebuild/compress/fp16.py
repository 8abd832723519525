"""fp16: weights and arithmetic in half precision, float32 at the graph's inputs and outputs.

The whole module is converted, not only the weights: an fp16 weight followed by a cast to fp32
would be folded back into an fp32 constant by TVM's constant folding, so the artifact would not
shrink. Targets with native fp16 arithmetic (Cortex-A76: +fullfp16) compute in it; others convert.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Context, Technique


@dataclass(frozen=True)
class Fp16:
    keep_float32: list[str] = ()  # module types kept in fp32, e.g. ["LayerNorm"] (numerically touchy)


def apply(module, config: Fp16, ctx: Context):
    import torch

    class Half(torch.nn.Module):
        """Float inputs cast to fp16 on the way in, outputs back to fp32 on the way out."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            args = [a.half() if a.is_floating_point() else a for a in args]
            out = self.inner(*args)
            return tuple(o.float() for o in out) if isinstance(out, tuple) else out.float()

    inner = module.half()
    for sub in inner.modules():
        if type(sub).__name__ in config.keep_float32:
            sub.float()
            sub.register_forward_pre_hook(lambda m, a: tuple(x.float() for x in a))
            sub.register_forward_hook(lambda m, a, out: out.half())
    return Half(inner).eval()


TECHNIQUE = Technique("fp16", Fp16, "torch", apply, "fp16 weights and arithmetic (fp32 graph inputs/outputs)")
