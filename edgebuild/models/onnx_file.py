"""Any ONNX file given by path: its graph inputs, with dynamic dims fixed by --input-shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from .base import Model, TensorSpec, sha256_file

REFERENCE_SEED = 0


# protobuf cannot parse a message of 2 GiB or more: larger models keep weights as external data.
MAX_PROTO_BYTES = 2**31


def check_size(path: Path) -> None:
    size = path.stat().st_size
    if size >= MAX_PROTO_BYTES:
        raise ModelError(f"{path}: {size / 2**30:.1f} GiB; an ONNX file must be below 2 GiB (protobuf's limit). "
                         "Save large weights as external data (onnx.save(..., save_as_external_data=True))")


def external_files(path: Path) -> list[Path]:
    """The external data files the graph in `path` names (read without loading their data)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    found = set()
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    for tensor in tensors:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            for entry in tensor.external_data:
                if entry.key == "location":
                    found.add(path.parent / entry.value)
    return sorted(found)


def parse(path: Path):
    """The ModelProto of `path`, or a ModelError that says why it is not a usable ONNX model."""
    import onnx

    check_size(path)

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises DecodeError, onnx its own errors: all mean "not ONNX"
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.graph.node:
        raise ModelError(f"{path}: not a usable ONNX model (the graph has no nodes)")
    return model


class OnnxFile(Model):
    kind = "onnx"

    def __init__(self, path: Path):
        self.path = path.resolve()
        check_size(self.path)
        self._fingerprint = sha256_file(self.path)
        # The stem plus a short hash: two different files named model.onnx never share a build dir.
        # Only [A-Za-z0-9_.+-]: the name becomes folder names on the host and on devices.
        stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", self.path.stem).lstrip(".") or "model"
        self.name = f"{stem}-{self._fingerprint[:8]}"
        self._proto = None

    def fingerprint(self) -> str:
        """The file's sha256 plus its external data files' (changed weights make another bundle)."""
        try:
            extra = [f"{p.name}:{sha256_file(p)}" for p in external_files(self.path) if p.is_file()]
        except Exception:  # not parseable: parse() reports why when the build loads it
            extra = []
        return ":".join([self._fingerprint, *extra])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": str(self.path), "sha256": self._fingerprint}

    def load(self):
        if self._proto is None:
            self._proto = parse(self.path)
        return self._proto

    def inputs(self) -> list[TensorSpec]:
        import onnx

        graph = self.load().graph
        initializers = {i.name for i in graph.initializer}
        specs = []
        for value in graph.input:
            if value.name in initializers:
                continue
            tensor = value.type.tensor_type
            if not value.type.HasField("tensor_type"):
                raise ModelError(f"{self.path}: input {value.name!r} is not a tensor; only tensor inputs are supported")
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name
            dims = tuple(
                # a dim_value of 0 is a real, empty dimension; unknown dims have no dim_value
                d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in tensor.shape.dim
            )
            specs.append(TensorSpec(value.name, dims, dtype))
        return specs  # none at all is a constant graph: it builds and runs without inputs

    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        """Deterministic synthetic inputs: N(0,1) floats, zeros for integers, False for bools."""
        rng = np.random.default_rng(REFERENCE_SEED)
        out = {}
        for spec in specs:
            dtype = np.dtype(spec.dtype)
            if dtype.kind == "f":
                out[spec.name] = rng.standard_normal(spec.shape).astype(dtype)
            else:
                out[spec.name] = np.zeros(spec.shape, dtype=dtype)
        return out


def load(path: Path) -> OnnxFile:
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    return OnnxFile(path)
