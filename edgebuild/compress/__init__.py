"""Compression: recipes (data) and the techniques their steps name (one module per technique)."""

from .gate import format_table
from .pipeline import Pipeline
from .recipe import Gate, Override, Recipe, dump, folder, load, resolve
from .registry import lookup, techniques

__all__ = ["Gate", "Override", "Pipeline", "Recipe", "dump", "folder", "format_table", "load", "lookup", "resolve", "techniques"]
