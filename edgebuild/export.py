"""Export stage: the (compressed) model as an ONNX graph with static shapes, simplified.

Static shapes plus simplification (shape inference, constant folding) are what make real ONNX
models import into TVM's Relax frontend: dynamic Reshape/Resize chains do not.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from .errors import ModelError
from .models.base import TensorSpec

OPSET = 17


def to_onnx(model: Any, specs: list[TensorSpec], output_names: list[str] | None, path: Path) -> str | None:
    """Write `model` (torch.nn.Module or onnx.ModelProto) to `path` with `specs` as its static inputs.
    Returns a warning for the user when the graph could not be simplified (it is written unsimplified)."""
    import onnx

    proto = model if isinstance(model, onnx.ModelProto) else _from_torch(model, specs, output_names)
    proto, note = _simplify(_with_static_inputs(proto, specs))
    onnx.save(proto, str(path))
    return note


def _from_torch(module, specs: list[TensorSpec], output_names: list[str] | None):
    import onnx
    import torch

    example = tuple(torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in specs)
    buffer = io.BytesIO()
    # The TorchScript exporter gives static, deterministic graphs without needing onnxscript. Its
    # tracer warnings are about dynamic shapes, which a static-shape export fixes by design.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            buffer,
            input_names=[s.name for s in specs],
            output_names=output_names,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def _with_static_inputs(proto, specs: list[TensorSpec]):
    import onnx

    proto = onnx.ModelProto.FromString(proto.SerializeToString())  # never mutate the caller's graph
    by_name = {s.name: s for s in specs}
    for value in proto.graph.input:
        spec = by_name.get(value.name)
        if spec is None:
            continue
        shape = value.type.tensor_type.shape
        del shape.dim[:]
        for d in spec.shape:
            shape.dim.add().dim_value = d
    # Output dims are re-derived by shape inference from the now-static inputs.
    for value in proto.graph.output:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.Clear()
    return proto


def _simplify(proto):
    """(graph, warning or None): onnxslim's simplification, keeping the graph's inputs: it drops inputs
    no node uses, and a bundle's model.so must take the inputs its manifest lists (the model's own).
    A simplifier failure is its bug, not the model's (onnxslim 0.1.98 fails on ONNX's opset-1 Not
    test cases): the graph goes on with ONNX's shape inference only, and the build says so."""
    import onnx
    import onnxslim

    declared = list(proto.graph.input)
    try:
        slim = onnxslim.slim(proto)
    except Exception as exc:  # onnxslim raises whatever the failing pass raises
        note = (f"the ONNX graph simplifier (onnxslim) failed ({type(exc).__name__}: {exc}); "
                "building the graph unsimplified, with ONNX's shape inference only")
        try:
            return onnx.shape_inference.infer_shapes(proto, data_prop=True), note
        except Exception as again:  # noqa: BLE001 (onnx raises several types)
            raise ModelError(f"simplifying the ONNX graph with static shapes failed: {type(exc).__name__}: {exc}; "
                             f"shape inference failed too: {type(again).__name__}: {again}") from None
    kept = {v.name: v for v in slim.graph.input}
    if set(kept) != {v.name for v in declared}:
        inputs = [kept.get(v.name, v) for v in declared] + [v for n, v in kept.items() if n not in {d.name for d in declared}]
        del slim.graph.input[:]
        slim.graph.input.extend(inputs)
    return slim, None


def graph_outputs(path: Path) -> list[TensorSpec]:
    """Output specs (name, static shape, dtype) of a simplified graph."""
    import numpy as np
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    specs = []
    for value in graph.output:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim)
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name
        specs.append(TensorSpec(value.name, dims, dtype))
    return specs
