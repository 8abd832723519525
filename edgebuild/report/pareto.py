"""The Pareto front of (cost, quality) points: nothing else is at least as cheap and as good, and better in one."""

from __future__ import annotations

from typing import Sequence, TypeVar

P = TypeVar("P")
# what a recipe search minimises, by its --objective
SEARCH_KEYS = {"latency": ("latency_ratio",), "size": ("transfer_bytes",), "both": ("latency_ratio", "transfer_bytes")}


def front(points: Sequence[P], cost, quality) -> list[P]:
    """The points of `points` on the front; `cost(p)` lower is better, `quality(p)` higher is better."""
    def dominated(p) -> bool:
        return any(cost(q) <= cost(p) and quality(q) >= quality(p) and (cost(q) < cost(p) or quality(q) > quality(p))
                   for q in points)

    return [p for p in points if not dominated(p)]


def minimal(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Rows no other row beats on every key (lower is better), one per distinct key tuple (the earliest
    `trial` kept), sorted by the keys: a recipe search's front."""
    def dominated(a, b):
        return all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)

    kept = [a for a in rows if not any(dominated(a, b) for b in rows if b is not a)]
    unique = {tuple(r[k] for k in keys): r for r in sorted(kept, key=lambda r: r["trial"], reverse=True)}
    return sorted(unique.values(), key=lambda r: tuple(r[k] for k in keys))
