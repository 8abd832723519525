"""Compression: recipes (data) and the techniques their steps name."""

from .recipe import Recipe, apply, folder, load

__all__ = ["Recipe", "apply", "folder", "load"]
