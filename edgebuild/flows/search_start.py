"""The points a new search tries before its sampler draws any.

The space's own first points (space.first_points), and for a size search of a PyTorch model first of
all clustering with bits and rate weight per layer group chosen from each group's measured
sensitivity (compress/allocate.py), at several totals of the allowed drop. A sampler that starts from
nothing spends a MiniLM size search's hour on points far from any good one: a 58-minute run
(2026-11-30) built 15 points, 5 of them distilled students, and its best was 6.27x smaller where the
hand-tuned deep-compression recipe is 8.05x.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import bundle
from ..models import shapes
from ..compress import allocate, space as spaces
from ..compress.measure import metric_of, torch_predict
from ..progress import SILENT, Progress

# Totals of the per-group drops to allocate, as shares of the budget's slack (the metric's fp32 value
# minus the least it may reach). Above 1 because retraining the shared values wins some back (MiniLM,
# deep-compression's bits with the embeddings at rate weight 3: cosine 0.9664 -> 0.9721 with 500
# fine-tune steps, 2026-11-30) and the groups' drops do not add up exactly.
LADDER = (1.0, 1.25, 0.75, 1.5)


def first_points(model, space: spaces.Space, slack: float, input_shapes: tuple[str, ...] = (),
                 say: Callable[[str], None] = print, progress: Progress = SILENT) -> list[dict[str, Any]]:
    points = allocated(model, space, slack, input_shapes, say, progress) if (
        space.objective != "latency" and space.torch_model) else []
    return points + spaces.first_points(space)


def allocated(model, space: spaces.Space, slack: float, input_shapes: tuple[str, ...] = (),
              say: Callable[[str], None] = print, progress: Progress = SILENT) -> list[dict[str, Any]]:
    """Clustering points allocated from sensitivity, one per rung of LADDER (repeats left out)."""
    specs = shapes.resolve(model.name, model.inputs(), shapes.parse(input_shapes))

    def metric(module) -> float:
        return metric_of(model.metrics(torch_predict(module, specs), specs, "search"))[1]

    groups = [(label, glob) for label, glob, _ in space.groups]
    table = allocate.profile(model.load(), groups, metric, lambda data: len(bundle.wire_encode(data)),
                             progress=progress)
    points: list[dict[str, Any]] = []
    for share in LADDER:
        choice = allocate.allocate(table, slack * share)
        if choice is None:
            continue
        params = spaces.clustered({label: (o.bits, o.rate_weight) for label, o in choice.items()}, space)
        if params not in points:
            points.append(params)
            say(f"allocated at {share:g}x the slack ({slack * share:.4g}): " + ", ".join(
                f"{label} {o.bits} bits rate {o.rate_weight:g} ({o.bytes:,} B, drop {o.drop:.4g})"
                for label, o in choice.items()))
    return points
