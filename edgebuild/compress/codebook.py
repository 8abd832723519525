"""codebook: stores clustered weights in the graph (and so in model.so) as packed k-bit indices plus
a per-tensor codebook, expanded by the graph at run time.

Each tensor is packed at the narrowest width (1, 2, 4 or 8 bits, at most `bits`) that indexes its
distinct values, so layers `cluster` gave more shared values keep them. What a deploy transfers is
compressed (see bundle.transfer_bytes), which entropy-codes the indices: zeros and frequent values
cost less than their width. A tensor with at most 2^bits distinct values (after `cluster`) becomes
`Gather(codebook, unpack(indices))` in standard ONNX ops, so ONNX Runtime runs the same graph. TVM's
constant folding would expand it straight back to fp32 constants; the indices therefore pass
through `Where(false, idx, idx)` with a false computed from the first graph input (`x < x` is false
for every value, NaN included), which no compiler can fold. The cost is one expansion per inference (its memory is reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .base import Context, Technique


@dataclass(frozen=True)
class Codebook:
    bits: Literal[1, 2, 4, 8] = 4  # the widest index: tensors with more distinct values stay as they are
    min_size: int = 1024

    def width(self, distinct: int) -> int | None:
        """Bits per index for a tensor of `distinct` values, or None when it needs more than `bits`."""
        return next((b for b in (1, 2, 4, 8) if b <= self.bits and distinct <= 2 ** b), None)


def pack(idx: np.ndarray, bits: int) -> np.ndarray:
    """Indices (< 2^bits) packed 8 // bits to a byte, the first in the lowest bits; zero-padded."""
    per_byte = 8 // bits
    pad = (-idx.size) % per_byte
    digits = np.concatenate([idx.ravel(), np.zeros(pad, idx.dtype)]).reshape(-1, per_byte).astype(np.uint32)
    return (digits * ((2 ** bits) ** np.arange(per_byte, dtype=np.uint32))).sum(axis=1).astype(np.uint8)


def apply(proto, config: Codebook, ctx: Context):
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    nodes, inits, encoded, expanded, widths = [], [], 0, 0, {}
    zero = _zero(graph, nodes, helper, TensorProto)
    for init in list(graph.initializer):
        w = numpy_helper.to_array(init)
        if w.dtype != np.float32 or w.size < config.min_size:
            continue
        values, idx = np.unique(w, return_inverse=True)
        bits = config.width(len(values))
        if bits is None:
            continue
        per_byte, base = 8 // bits, 2 ** bits
        widths[bits] = widths.get(bits, 0) + 1
        name = init.name
        packed = pack(idx, bits)
        book = np.zeros(base, np.float32)
        book[: len(values)] = values
        inits += [numpy_helper.from_array(packed, f"{name}__idx"), numpy_helper.from_array(book, f"{name}__book"),
                  numpy_helper.from_array(np.array(list(w.shape), np.int64), f"{name}__shape"),
                  numpy_helper.from_array(np.array([idx.size], np.int64), f"{name}__n")]
        p = lambda s: f"{name}__{s}"  # noqa: E731 - local names of this tensor's expansion
        # Where(false, idx, idx) is idx, but depends on the input: the uint8 constant stays uint8.
        nodes += [helper.make_node("Where", [zero, p("idx"), p("idx")], [p("u8")]),
                  helper.make_node("Cast", [p("u8")], [p("live")], to=TensorProto.INT32)]
        parts = []
        for j in range(per_byte):
            nodes += [helper.make_node("Div", [p("live"), _int(inits, f"{name}__d{j}", base ** j)], [p(f"q{j}")]),
                      helper.make_node("Mod", [p(f"q{j}"), _int(inits, f"{name}__m", base)], [p(f"r{j}")]),
                      helper.make_node("Unsqueeze", [p(f"r{j}"), _axes(inits, name)], [p(f"u{j}")])]
            parts.append(p(f"u{j}"))
        nodes += [helper.make_node("Concat", parts, [p("cat")], axis=1),
                  helper.make_node("Reshape", [p("cat"), _flat(inits, name)], [p("flat")]),
                  helper.make_node("Slice", [p("flat"), _start(inits, name), p("n")], [p("index")]),
                  helper.make_node("Gather", [p("book"), p("index")], [p("values")]),
                  helper.make_node("Reshape", [p("values"), p("shape")], [name])]
        graph.initializer.remove(init)
        encoded += 1
        expanded += w.nbytes
    if encoded:
        graph.initializer.extend(inits)
        rest = list(graph.node)
        del graph.node[:]
        graph.node.extend(nodes + rest)  # expansions first: every consumer comes after its weight
    ctx.notes["encoded_tensors"] = encoded
    ctx.notes["tensors_per_index_bits"] = {str(b): n for b, n in sorted(widths.items())}
    ctx.notes["runtime_expanded_bytes"] = expanded
    return proto


def _zero(graph, nodes, helper, TensorProto) -> str:
    """A bool [1] false that depends on the first graph input, so nothing it guards can be constant-folded."""
    first = graph.input[0].name
    nodes += [helper.make_node("Flatten", [first], ["edgebuild_z_flat"], axis=0),
              helper.make_node("Less", ["edgebuild_z_flat", "edgebuild_z_flat"], ["edgebuild_z_false"]),
              helper.make_node("Cast", ["edgebuild_z_false"], ["edgebuild_z_int"], to=TensorProto.INT32),
              helper.make_node("ReduceMax", ["edgebuild_z_int"], ["edgebuild_z_max"], keepdims=0),
              helper.make_node("Reshape", ["edgebuild_z_max", "edgebuild_z_one"], ["edgebuild_z_int1"]),
              helper.make_node("Cast", ["edgebuild_z_int1"], ["edgebuild_false"], to=TensorProto.BOOL)]
    from onnx import numpy_helper

    graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "edgebuild_z_one"))
    return "edgebuild_false"


def _int(inits, name: str, value: int) -> str:
    from onnx import numpy_helper

    if not any(i.name == name for i in inits):
        inits.append(numpy_helper.from_array(np.array(value, np.int32), name))
    return name


def _const(inits, name: str, value) -> str:
    from onnx import numpy_helper

    if not any(i.name == name for i in inits):
        inits.append(numpy_helper.from_array(np.array(value, np.int64), name))
    return name


def _axes(inits, name):
    return _const(inits, f"{name}__axes", [1])


def _flat(inits, name):
    return _const(inits, f"{name}__flatshape", [-1])


def _start(inits, name):
    return _const(inits, f"{name}__start", [0])


TECHNIQUE = Technique("codebook", Codebook, "onnx", apply,
                      "store clustered weights as packed k-bit indices + codebook in model.so")
