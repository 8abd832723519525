"""Small inline SVG charts (scatter, lines over time, bars): no plotting library, a few KB each.

Every mark carries data-* attributes with its values, so a test (or a curious reader) can check a
figure against the numbers it was drawn from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 30, 50
PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


@dataclass
class Point:
    x: float
    y: float
    label: str
    attrs: dict[str, str] = field(default_factory=dict)
    flagged: bool = False


class Axis:
    def __init__(self, values: list[float], lo_px: float, hi_px: float, log: bool = False, min_span: float = 0.0):
        self.log = log and all(v > 0 for v in values)
        vs = [self._t(v) for v in values] or [0.0, 1.0]
        lo, hi = min(vs), max(vs)
        pad = (hi - lo) * 0.08 or min_span or abs(hi) * 0.1 or 1.0
        self.lo, self.hi, self.lo_px, self.hi_px = lo - pad, hi + pad, lo_px, hi_px

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def pos(self, v: float) -> float:
        return self.lo_px + (self._t(v) - self.lo) / (self.hi - self.lo) * (self.hi_px - self.lo_px)

    def ticks(self, n: int = 5) -> list[float]:
        return [self._inv(self.lo + (self.hi - self.lo) * (i + 0.5) / n) for i in range(n)]

    def _inv(self, t: float) -> float:
        return 10 ** t if self.log else t


def _num(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e5 else f"{v:.3e}"


def _time(v: float) -> str:
    return datetime.fromtimestamp(v, timezone.utc).strftime("%m-%d %H:%M")


def _seconds(v: float) -> str:
    return datetime.fromtimestamp(v, timezone.utc).strftime("%H:%M:%S")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _frame(title: str, x_label: str, y_label: str, x: Axis, y: Axis, attrs: dict[str, str], x_fmt=_num,
           below: int = 0) -> list[str]:
    """The chart's frame; `below` px are added under the x axis (for a legend)."""
    extra = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items())
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + below}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT + below}" class="chart"{extra}>',
           f'<text x="{LEFT}" y="18" class="title">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" class="plot"/>']
    for t in x.ticks():
        px = x.pos(t)
        out.append(f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 14}" class="tick" text-anchor="middle">{x_fmt(t)}</text>')
    for t in y.ticks():
        py = y.pos(t)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
                   f'<text x="{LEFT - 4}" y="{py + 4:.1f}" class="tick" text-anchor="end">{_num(t)}</text>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 12}" text-anchor="middle" class="axis">'
               f'{escape(x_label)}{" (log)" if x.log else ""}</text>')
    out.append(f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" text-anchor="middle" '
               f'class="axis">{escape(y_label)}</text>')
    return out


def _data(attrs: dict[str, str]) -> str:
    return "".join(f' data-{k}="{escape(str(v))}"' for k, v in attrs.items())


def scatter(points: list[Point], front: list[Point], title: str, x_label: str, y_label: str,
            attrs: dict[str, str], log_x: bool = False) -> str:
    """Points with their labels; the front ringed (class pareto-marker) and joined by a step line."""
    x = Axis([p.x for p in points], LEFT, WIDTH - RIGHT, log=log_x)
    y = Axis([p.y for p in points], HEIGHT - BOTTOM, TOP)
    out = _frame(title, x_label, y_label, x, y, attrs)
    ordered = sorted(front, key=lambda p: p.x)
    if len(ordered) > 1:
        path = " ".join(f"{x.pos(p.x):.1f},{y.pos(p.y):.1f}" for p in ordered)
        out.append(f'<polyline points="{path}" class="front"/>')
    for p in points:
        px, py = x.pos(p.x), y.pos(p.y)
        out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" class="point"{_data({"x": p.x, "y": p.y, **p.attrs})}>'
                   f'<title>{escape(p.label)}: {_num(p.x)}, {_num(p.y)}</title></circle>'
                   f'<text x="{px + 6:.1f}" y="{py - 6:.1f}" class="label">{escape(p.label)}</text>')
    for p in front:
        out.append(f'<circle cx="{x.pos(p.x):.1f}" cy="{y.pos(p.y):.1f}" r="8" class="pareto-marker"'
                   f'{_data({"x": p.x, "y": p.y})}/>')
    return "\n".join(out + ["</svg>"])


def lines(series: dict[str, list[Point]], title: str, y_label: str, attrs: dict[str, str]) -> str:
    """One polyline per series over time (x: epoch seconds); flagged points drawn as red squares."""
    every = [p for pts in series.values() for p in pts]
    x = Axis([p.x for p in every], LEFT, WIDTH - RIGHT, min_span=1800.0)
    y = Axis([p.y for p in every], HEIGHT - BOTTOM, TOP)
    out = _frame(title, "time (UTC)", y_label, x, y, attrs, x_fmt=_time if x.hi - x.lo >= 600 else _seconds,
                 below=13 * len(series))
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = PALETTE[i % len(PALETTE)]
        coords = [(x.pos(p.x), y.pos(p.y)) for p in pts]
        if len(coords) > 1:
            out.append(f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in coords)}" stroke="{color}" '
                       f'class="series"/>')
        for p, (a, b) in zip(pts, coords):
            mark = (f'<rect x="{a - 4:.1f}" y="{b - 4:.1f}" width="8" height="8" class="point flagged"'
                    if p.flagged else f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{color}" class="point"')
            out.append(f'{mark}{_data({"y": p.y, **p.attrs})}><title>{escape(p.label)}</title>'
                       f'{"</rect>" if p.flagged else "</circle>"}')
        out.append(f'<text x="{LEFT}" y="{HEIGHT + 13 * i}" fill="{color}" class="legend">{escape(name)}</text>')
    return "\n".join(out + ["</svg>"])


def bars(items: list[tuple[str, float, dict[str, str]]], title: str, attrs: dict[str, str]) -> str:
    """Horizontal bars of ratios on a log scale, with the 1.0 line (the reference engine)."""
    row = 20
    height = TOP + row * len(items) + 20
    top = max([v for _, v, _ in items] + [1.0])
    bottom = min([v for _, v, _ in items] + [1.0])
    lo, hi = math.log10(bottom) - 0.1, math.log10(top) + 0.1
    pos = lambda v: 200 + (math.log10(v) - lo) / (hi - lo) * (WIDTH - 260)  # noqa: E731
    extra = "".join(f' {k}="{escape(str(v))}"' for k, v in attrs.items())
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
           f'class="chart"{extra}>', f'<text x="10" y="18" class="title">{escape(title)}</text>']
    for i, (label, value, data) in enumerate(items):
        y = TOP + i * row
        start, end = sorted((pos(1.0), pos(value)))
        out.append(f'<text x="10" y="{y + 13}" class="label">{escape(label)}</text>'
                   f'<rect x="{start:.1f}" y="{y}" width="{max(end - start, 1):.1f}" height="{row - 4}" '
                   f'fill="{PALETTE[i % len(PALETTE)]}" class="bar"{_data({"value": value, **data})}/>'
                   f'<text x="{max(end, pos(1.0)) + 4:.1f}" y="{y + 13}" class="label">{value:.2f}x</text>')
    out.append(f'<line x1="{pos(1.0):.1f}" x2="{pos(1.0):.1f}" y1="{TOP - 4}" y2="{height - 10}" class="ref"/>')
    return "\n".join(out + ["</svg>"])
