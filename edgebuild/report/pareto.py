"""The Pareto front of (cost, quality) points: nothing else is at least as cheap and as good, and better in one."""

from __future__ import annotations

from typing import Sequence, TypeVar

P = TypeVar("P")


def front(points: Sequence[P], cost, quality) -> list[P]:
    """The points of `points` on the front; `cost(p)` lower is better, `quality(p)` higher is better."""
    def dominated(p) -> bool:
        return any(cost(q) <= cost(p) and quality(q) >= quality(p) and (cost(q) < cost(p) or quality(q) > quality(p))
                   for q in points)

    return [p for p in points if not dominated(p)]
