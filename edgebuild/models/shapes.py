"""--input-shape=NAME:D1,D2,... parsing and resolution of dynamic dims to a static signature."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import ModelError
from .base import TensorSpec

# One input tensor above this cannot be a sane edge workload, and would fail only after the compile.
MAX_INPUT_BYTES = 2**31


def parse(flags: list[str] | tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for flag in flags:
        name, sep, dims = flag.rpartition(":")
        try:
            if not sep or not name:
                raise ValueError
            shape = tuple(int(d) for d in dims.split(","))
            if any(d <= 0 for d in shape):
                raise ValueError
        except ValueError:
            raise ModelError(
                f"--input-shape={flag!r}: expected NAME:D1,D2,... with positive integers, e.g. --input-shape=x:1,3,224,224"
            ) from None
        if name in shapes:
            raise ModelError(f"--input-shape: input {name!r} is given twice")
        shapes[name] = shape
    return shapes


def resolve(model_name: str, declared: list[TensorSpec], given: dict[str, tuple[int, ...]]) -> list[TensorSpec]:
    """Static specs: `given` overrides, declared static dims stay; any dynamic dim left is an error."""
    names = [s.name for s in declared]
    extra = [n for n in given if n not in names]
    if extra:
        raise ModelError(f"--input-shape: model {model_name!r} has no input {extra[0]!r}; its inputs are: {', '.join(names)}")
    resolved, unset, examples = [], [], []
    for spec in declared:
        shape = given.get(spec.name)
        if shape is not None:
            if spec.shape and len(shape) != len(spec.shape):
                raise ModelError(
                    f"--input-shape={spec.name}:{','.join(map(str, shape))}: input {spec.name!r} of {model_name!r} "
                    f"has rank {len(spec.shape)} (declared shape {_fmt(spec.shape)})"
                )
            for i, (want, got) in enumerate(zip(spec.shape, shape)):
                if isinstance(want, int) and want >= 0 and want != got:
                    raise ModelError(
                        f"--input-shape: dim {i} of input {spec.name!r} is fixed at {want} in the model, got {got}"
                    )
            spec = replace(spec, shape=shape)
        elif not spec.is_static:
            dims = [f"{spec.name}[{i}]={d!r}" for i, d in enumerate(spec.shape) if not (isinstance(d, int) and d >= 0)]
            unset.append(f"{', '.join(dims)} (shape {_fmt(spec.shape)})")
            example = ",".join(str(d) if isinstance(d, int) and d >= 0 else "N" for d in spec.shape)
            examples.append(f"--input-shape={spec.name}:{example}")
        resolved.append(spec)
    if unset:
        raise ModelError(
            f"model {model_name!r} has dynamic dims with no size: {'; '.join(unset)}. "
            f"Give each one's full shape with N replaced: {' '.join(examples)}"
        )
    for spec in resolved:
        size = math.prod(spec.shape) * np.dtype(spec.dtype).itemsize
        if size > MAX_INPUT_BYTES:
            raise ModelError(f"input {spec.name!r} of {model_name!r} with shape {_fmt(spec.shape)} would take "
                             f"{size / 2**30:.1f} GiB; inputs are limited to {MAX_INPUT_BYTES / 2**30:.0f} GiB "
                             f"(check --input-shape)")
    return resolved


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
