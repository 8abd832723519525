"""The results report: one self-contained HTML page drawn from the history (tables, SVG plots, regressions)."""

from .page import render
from .regress import Settings

__all__ = ["Settings", "render"]
