"""allocate: clustering bits and rate weight per layer group, from measured sensitivity.

Deep Compression's authors chose bits per layer by clustering one layer at a time and watching the
accuracy; the shipped MiniLM recipe was tuned the same way by hand. `profile` does it for a model's
layer groups (Model.layer_groups; each clusterable layer no group names is a group of its own, as
Deep Compression chose bits per layer, or with more than OWN_MOST of them they are one group, REST):
each group alone is clustered at every option, with every other layer left fp32,
and the option's transfer bytes (its packed indices, compressed as a deploy compresses them) and the
model's metric drop are recorded. `allocate` then picks one option per group, the fewest bytes whose
drops add up to at most a given total: a multiple-choice knapsack, solved exactly by merging Pareto
fronts. Drops do not add up exactly (the groups interact), so a search tries several totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Callable, Sequence

from ..progress import SILENT, Progress
from .cluster import Cluster, clusterable, fold_batchnorm, kmeans_1d
from .codebook import Codebook, pack

REST = "rest"  # the clusterable layers that no layer group names (the cluster step's own bits)
RATE_WEIGHTS = (1.0, 3.0)  # plain-ish and strongly entropy-constrained (cluster.py)
OPTIONS = tuple((bits, rate) for rate in RATE_WEIGHTS for bits in range(3, 9))
# Ungrouped layers get their own bits up to this many (each adds two sampled parameters to a search and
# twelve options to the profile). Tables of one kind differ most: in MiniLM's REST group, 8-bit
# position embeddings instead of 4 took a clustered build's cosine from 0.9752 to 0.9789 on the search
# half and 0.9712 to 0.9755 held-out, for 21 KB more (2026-12-01).
OWN_MOST = 8


@dataclass(frozen=True)
class Option:
    bits: int
    rate_weight: float
    bytes: int  # the group's packed indices, compressed
    drop: float  # the model's metric before minus after, this group alone clustered


def groups_of(module, groups: Sequence[tuple[str, str]]) -> dict[str, list]:
    """{label: [(name, layer)]} of the clusterable layers, each in the first group whose glob matches
    its name (as Cluster.for_layer picks), else REST; groups without layers are left out."""
    found: dict[str, list] = {}
    for name, layer in clusterable(module, Cluster()):
        label = next((label for label, glob in groups if fnmatchcase(name, glob)), REST)
        found.setdefault(label, []).append((name, layer))
    return {label: found[label] for label in [*(g for g, _ in groups), REST] if label in found}


def own_layers(module, globs: Sequence[str], most: int = OWN_MOST) -> tuple[str, ...]:
    """Names of the clusterable layers of `module` that no glob matches, if there are at most `most`."""
    ungrouped = groups_of(module, [(str(i), glob) for i, glob in enumerate(globs)]).get(REST, [])
    names = [name for name, _ in ungrouped]
    return tuple(names) if len(names) <= most else ()


def profile(module, groups: Sequence[tuple[str, str]], metric: Callable[[object], float],
            size: Callable[[bytes], int], options: Sequence[tuple[int, float]] = OPTIONS,
            iterations: int = Cluster.iterations, progress: Progress = SILENT) -> dict[str, list[Option]]:
    """{label: [Option]} for each group of `module` (changed only while measuring). `metric` scores a
    module (higher is better); `size` is the bytes a deploy sends for some bytes."""
    import torch

    fold_batchnorm(module.eval())  # as the cluster step does before it clusters
    found = groups_of(module, groups)
    reference = metric(module)
    table: dict[str, list[Option]] = {}
    with progress.task("cluster sensitivity", total=len(found) * len(options), unit="options") as shown:
        for label, layers in found.items():
            saved = [layer.weight.detach().clone() for _, layer in layers]
            table[label] = []
            for bits, rate in options:
                total = 0
                with torch.no_grad():
                    for _, layer in layers:
                        w = layer.weight
                        centroids, idx = kmeans_1d(w.detach().flatten().float(), 2 ** bits, iterations, rate)
                        w.copy_(centroids[idx].reshape(w.shape).to(w.dtype))
                        width = Codebook(bits=8).width(centroids.numel())  # as the codebook step packs it
                        total += size(pack(idx.numpy(), width).tobytes()) + 4 * centroids.numel()
                table[label].append(Option(bits, rate, total, reference - metric(module)))
                with torch.no_grad():
                    for (_, layer), weight in zip(layers, saved):
                        layer.weight.copy_(weight)
                shown.advance()
    return table


def allocate(table: dict[str, list[Option]], drop: float) -> dict[str, Option] | None:
    """The option per group with the fewest total bytes whose drops sum to at most `drop` (None if
    no choice fits)."""
    front: list[tuple[float, int, dict[str, Option]]] = [(0.0, 0, {})]
    for label, options in table.items():
        merged = sorted(((d + o.drop, b + o.bytes, {**pick, label: o}) for d, b, pick in front for o in options),
                        key=lambda p: (p[1], p[0]))
        front, lowest = [], float("inf")
        for point in merged:  # keep the Pareto front: each cheaper point must also drop less
            if point[0] < lowest:
                front.append(point)
                lowest = point[0]
    fits = [point for point in front if point[0] <= drop]
    return min(fits, key=lambda p: p[1])[2] if fits else None
