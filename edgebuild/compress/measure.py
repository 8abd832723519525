"""Numbers for the per-step table: size and work of a PyTorch module or an ONNX graph, and the
model's metric through a predict function (the same `metrics` the compiled graph is scored with)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# The metric a gate can bound, in order of preference, per model kind.
METRICS = ("accuracy", "cosine_to_fp32")


def metric_of(metrics: dict[str, Any]) -> tuple[str | None, float | None]:
    for name in METRICS:
        if name in metrics:
            return name, metrics[name]
    return None, None


def torch_predict(module, specs):
    import torch

    def predict(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*(torch.from_numpy(np.ascontiguousarray(inputs[s.name])) for s in specs))
        outs = out if isinstance(out, (tuple, list)) else [out]
        return [o.float().numpy() for o in outs]

    return predict


def onnx_predict(proto):
    from .onnx_tools import session

    sess = session(proto)
    return lambda inputs: [np.asarray(o) for o in sess.run(None, inputs)]


def torch_numbers(module, specs) -> dict[str, int]:
    """params, non-zero params, weight bytes (as stored now) and MACs of Conv/Linear layers (one forward)."""
    import torch

    tensors = list(module.state_dict().values())
    params = sum(t.numel() for t in tensors if t.is_floating_point())
    nonzero = sum(int(torch.count_nonzero(t)) for t in tensors if t.is_floating_point())
    nbytes = sum(t.numel() * t.element_size() for t in tensors)
    macs = [0]

    def hook(layer, args, out):
        if isinstance(layer, torch.nn.Conv2d):
            macs[0] += out.numel() * (layer.in_channels // layer.groups) * layer.kernel_size[0] * layer.kernel_size[1]
        elif isinstance(layer, torch.nn.Linear):
            macs[0] += out.numel() * layer.in_features

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            module(*(torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in specs))
    finally:
        for h in handles:
            h.remove()
    return {"params": int(params), "nonzero_params": int(nonzero), "weight_bytes": int(nbytes), "macs": int(macs[0])}


def graph_numbers(proto) -> dict[str, int]:
    import onnx
    from onnx import numpy_helper

    from ..graph_stats import stats

    with tempfile.TemporaryDirectory(prefix="edgebuild-stats-") as tmp:
        path = Path(tmp) / "g.onnx"
        onnx.save(proto, str(path))
        numbers = stats(path)
    nonzero = sum(int(np.count_nonzero(numpy_helper.to_array(i))) for i in proto.graph.initializer)
    return {"params": numbers["params"], "nonzero_params": nonzero, "weight_bytes": numbers["weight_bytes"],
            "macs": numbers["macs"]}
