"""ONNX Runtime's result for a quantized graph by the graph's own (ONNX) definitions, and how close a
build must come to it: the parity check of int8 graphs.

Two of ONNX Runtime's shortcuts move a quantized graph's output away from what the graph defines, so the
reference runs without them:
- its x86 uint8 x int8 kernels on CPUs without VNNI add pairs of products in saturating int16
  (vpmaddubsw). Every int8 weight of an integer operator is stored as uint8 instead (w + 128, zero
  point + 128: the same integers), and its uint8 x uint8 kernels are exact.
- its fusions (graph optimizations above "basic") compute in another float order: Add +
  LayerNormalization becomes SkipLayerNormalization. Where activations are quantized at run time, an
  ulp before a DynamicQuantizeLinear moves a value by one quantization step, and those steps compound
  over the layers: measured 2026-11-29 on MiniLM int8-dynamic (this AVX2 host), the build was 0.0124
  from ONNX Runtime with its fusions and 3.7e-8 from it without them; that 0.0124 was the drift
  recorded for rpi5.

Without the fusions the same flip still happens, on some inputs: float operators (LayerNormalization,
softmax, GELU) are free to add in another order than ONNX Runtime, and an ulp lands a value on the
other side of a rounding. Measured 2026-11-30 on MiniLM's first 40 sentences (this AVX2 host): the
int8-dynamic build with 8-bit weights was within 1e-7 of this reference on 29, within the tolerance
(1e-3) on 33 and 0.0057-0.0124 away on 7; with 7-bit weights 31, 32 and 8 (0.0012-0.0142). A rounding
or zero-point bug in the lowering moves every input. So a graph that quantizes activations at run time
is judged on several inputs and passes when most of them are within the tolerance; any other quantized
graph computes exactly and must be within it on every input.
"""

from __future__ import annotations

import numpy as np

# The integer operators (weight input, weight zero-point input) whose kernels saturate on x86.
_WEIGHTS = {"QLinearConv": (3, 5), "QGemm": (3, 5), "QLinearMatMul": (3, 5), "ConvInteger": (1, 3),
            "MatMulInteger": (1, 3)}
QUANTIZED_OPS = frozenset({*_WEIGHTS, "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
RTOL = 1e-3  # of a float output's largest magnitude (at least 1), where no output quantization step applies


def is_quantized(proto) -> bool:
    """Whether the graph quantizes anything beyond stored weights (a DequantizeLinear of an embedding
    table alone is a float graph)."""
    return any(n.op_type in QUANTIZED_OPS - {"DequantizeLinear"} for n in proto.graph.node)


def exact_weights(proto):
    """A copy of `proto` with each int8 weight (and its zero point) of an integer operator stored as
    uint8 + 128: the same integers, computed by ONNX Runtime's exact uint8 x uint8 kernels."""
    from onnx import numpy_helper

    proto = type(proto).FromString(proto.SerializeToString())
    inits = {i.name: i for i in proto.graph.initializer}
    dtypes = {name: numpy_helper.to_array(i).dtype for name, i in inits.items()}
    dynamic = {n.output[2] for n in proto.graph.node if n.op_type == "DynamicQuantizeLinear"}
    pairs = [[node.input[i] if i < len(node.input) else "" for i in _WEIGHTS[node.op_type]]
             for node in proto.graph.node if node.op_type in _WEIGHTS and _uint8_input(node, dtypes, dynamic)]
    for name in {name for pair in pairs if all(dtypes.get(n) == np.int8 for n in pair) for name in pair}:
        value = (numpy_helper.to_array(inits[name]).astype(np.int16) + 128).astype(np.uint8)
        inits[name].CopyFrom(numpy_helper.from_array(value, name))  # a shared zero point once
    return proto


def _uint8_input(node, dtypes, dynamic: set[str]) -> bool:
    """Whether the node's activation is uint8 (its zero point, input 2, is uint8 or a run-time one):
    int8 x int8 kernels are exact, and ONNX Runtime has none for int8 x uint8."""
    zp = node.input[2] if len(node.input) > 2 else ""
    return zp in dynamic or dtypes.get(zp) == np.uint8


def _session(proto):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(exact_weights(proto).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def run(proto, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime's outputs of a quantized graph, by the graph's definitions (see the module doc)."""
    return _session(proto).run(None, inputs)


def quantizes_at_run_time(proto) -> bool:
    """Whether activations get their scale at run time (DynamicQuantizeLinear): the graph's output then
    moves by whole quantization steps under float-ordering differences (see the module doc)."""
    return any(n.op_type == "DynamicQuantizeLinear" for n in proto.graph.node)


def tolerances(proto, expected: list[np.ndarray]) -> list[float]:
    """Per output: one quantization step where the graph dequantizes it with a constant scale, else
    RTOL of its largest magnitude (at least 1)."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    steps = {n.output[0]: inits.get(n.input[1]) for n in proto.graph.node if n.op_type == "DequantizeLinear"}
    out = []
    for output, value in zip(proto.graph.output, expected):
        step = steps.get(output.name)
        if step is not None:
            out.append(float(np.max(step)) * (1 + 1e-4))  # a float32 product may round either way
        else:
            out.append(RTOL * max(1.0, float(np.abs(value).max()) if value.size else 0.0))
    return out


def check(proto, cases: list[tuple[dict[str, np.ndarray], list[np.ndarray]]]) -> dict:
    """The build's outputs against the reference, per case (inputs, the build's outputs; the first is
    the reference input): the largest difference on the reference input and the tolerance it is judged
    by (the smallest over the outputs' ratio), how many cases are within their tolerances, and whether
    enough are: every case, or more than half where the graph quantizes at run time."""
    session = _session(proto)
    judged = []
    for inputs, got in cases:
        expected = session.run(None, inputs)
        diffs = [float(np.max(np.abs(np.asarray(e, np.float64) - g))) if e.size else 0.0
                 for e, g in zip(expected, got)]
        limits = tolerances(proto, expected)
        judged.append((diffs, limits, all(d <= t for d, t in zip(diffs, limits))))
    diffs, limits, _ = judged[0]
    worst = max(range(len(diffs)), key=lambda i: diffs[i] / limits[i]) if diffs else 0
    ok = sum(within for *_, within in judged)
    return {"max_abs_diff": max(diffs, default=0.0), "tolerance": limits[worst] if limits else 0.0,
            "inputs": len(judged), "inputs_within": ok,
            "within": ok * 2 > len(judged) if quantizes_at_run_time(proto) else ok == len(judged)}
