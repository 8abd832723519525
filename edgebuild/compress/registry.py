"""The techniques a recipe step may name. Adding one: a module in this package plus its name below."""

from __future__ import annotations

import importlib

from ..errors import unknown
from .base import Technique

# One module per technique, each exporting TECHNIQUE; listed explicitly so the set is visible here.
MODULES = ("prune", "prune_channels", "lowrank", "distill", "qat", "cluster", "cluster_graph", "codebook", "int8_static",
           "int8_dynamic", "fp16")


def techniques() -> dict[str, Technique]:
    """Name -> technique, built on each call (no import-time registration, no global state)."""
    found = [importlib.import_module(f"{__package__}.{name}").TECHNIQUE for name in MODULES]
    return {t.name: t for t in found}


def lookup(name: str) -> Technique:
    table = techniques()
    if name not in table:
        raise unknown("technique", name, list(table))
    return table[name]
