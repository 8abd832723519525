"""ONNX Resize as opsets 10-12 write it: roi and scales are required inputs there, and an exporter
that resizes to `sizes` passes them as empty tensors. TVM 0.27's importer takes an empty `scales` for
a given one and refuses the node ("Only one of scales and sizes can be provided in Resize")."""

from __future__ import annotations


def absent_when_empty(inputs):
    """`inputs` of a Resize with an empty constant roi or scales given as absent (None), as opset 13 writes it."""
    import tvm

    def empty(x) -> bool:
        return isinstance(x, tvm.ir.expr.Constant) and x.value.numpy().size == 0

    out = type(inputs)(inputs)  # the importer's onnx_input: None past its end
    for i in (1, 2):
        if len(out) > i and empty(out[i]):
            out[i] = None
    return out
