"""cluster-graph: weight sharing on an ONNX graph's initializers (for models that are ONNX files).

The graph-side twin of `cluster`: each float initializer of at least `min-size` values (weights,
not biases or shape constants) snaps to 2^bits shared values by the same 1-D k-means; a following
`codebook` step stores them as packed indices. No fine-tuning (an ONNX file has no training data):
the recipe's gate bounds the agreement with the fp32 graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Context, Technique
from .cluster import kmeans_1d


@dataclass(frozen=True)
class ClusterGraph:
    bits: int = 6  # 2^bits shared values per initializer
    rate_weight: float = 0.0  # > 0: entropy-constrained k-means (see cluster.py)
    iterations: int = 15
    min_size: int = 1024  # smaller tensors (biases, norms, shapes) stay as they are

    def __post_init__(self):
        if not 1 <= self.bits <= 8:
            raise ValueError("bits: must be 1..8 (indices are packed into bytes)")
        if self.rate_weight < 0:
            raise ValueError("rate-weight: must be >= 0 (0 is plain k-means)")


def apply(proto, config: ClusterGraph, ctx: Context):
    import torch
    from onnx import numpy_helper

    clustered = 0
    for init in proto.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype != np.float32 or w.size < config.min_size or len(np.unique(w)) <= 2 ** config.bits:
            continue
        centroids, idx = kmeans_1d(torch.from_numpy(w.ravel().copy()), 2 ** config.bits, config.iterations,
                                   config.rate_weight)
        init.CopyFrom(numpy_helper.from_array(centroids[idx].numpy().astype(np.float32).reshape(w.shape), init.name))
        clustered += 1
    ctx.notes["clustered_initializers"] = clustered
    return proto


TECHNIQUE = Technique("cluster-graph", ClusterGraph, "onnx", apply,
                      "k-means weight sharing on an ONNX graph's initializers, 2^bits values per tensor")
