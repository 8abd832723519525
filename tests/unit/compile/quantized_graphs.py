"""Small float graphs quantized by ONNX Runtime's own quantizer, and what to compare a build with.

A conv net (strided, depthwise and pointwise convs, residual Add, SiLU, pooling, Gemm head) and a
transformer block (LayerNorm, Q/K/V projections, attention's activation x activation MatMuls,
Softmax, FFN), with seeded weights, so the quantized graphs are exactly what the quantizer writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import int8_layouts
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)


def _w(name, *shape, std=0.2):
    return numpy_helper.from_array(RNG.normal(0, std, shape).astype(np.float32), name)


def conv_net() -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    inits = [_w("w1", 16, 3, 3, 3, std=0.3), _w("b1", 16, std=0.1), _w("w2", 16, 1, 3, 3), _w("b2", 16, std=0.1),
             _w("w3", 32, 16, 1, 1), _w("b3", 32, std=0.1), _w("wf", 10, 32), _w("bf", 10, std=0.1)]
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
             n("Relu", ["c1"], ["r1"]), n("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=16, name="dw"),
             n("Relu", ["c2"], ["r2"]), n("Add", ["r2", "r1"], ["a2"]), n("Conv", ["a2", "w3", "b3"], ["c3"], name="pw"),
             n("Sigmoid", ["c3"], ["s3"]), n("Mul", ["c3", "s3"], ["m3"]),
             n("MaxPool", ["m3"], ["p3"], kernel_shape=[2, 2], strides=[2, 2]), n("GlobalAveragePool", ["p3"], ["g"]),
             n("Flatten", ["g"], ["f"]), n("Gemm", ["f", "wf", "bf"], ["y"], transB=1, name="fc")]
    graph = helper.make_graph(nodes, "conv_net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    return _model(graph), {"x": RNG.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32)}


def transformer_block(seq: int = 16, dim: int = 32) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    inits = [numpy_helper.from_array(np.ones(dim, np.float32), "g"), numpy_helper.from_array(np.zeros(dim, np.float32), "z"),
             numpy_helper.from_array(np.float32(1 / np.sqrt(dim)), "scale")]
    for name, shape in [("wq", (dim, dim)), ("wk", (dim, dim)), ("wv", (dim, dim)), ("wo", (dim, dim)),
                        ("w1", (dim, 2 * dim)), ("w2", (2 * dim, dim))]:
        inits += [_w(name, *shape), _w("b" + name[1:], shape[1], std=0.05)]
    n = helper.make_node
    nodes = [n("LayerNormalization", ["x", "g", "z"], ["ln1"], axis=-1)]
    for p in "qkv":
        nodes += [n("MatMul", ["ln1", f"w{p}"], [f"{p}0"], name=f"{p}_proj"), n("Add", [f"{p}0", f"b{p}"], [p])]
    nodes += [n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]), n("MatMul", ["q", "kt"], ["qk"], name="scores"),
              n("Mul", ["qk", "scale"], ["qks"]), n("Softmax", ["qks"], ["att"], axis=-1),
              n("MatMul", ["att", "v"], ["ctx"], name="context"), n("MatMul", ["ctx", "wo"], ["o0"], name="out_proj"),
              n("Add", ["o0", "bo"], ["o"]), n("Add", ["x", "o"], ["r"]),
              n("LayerNormalization", ["r", "g", "z"], ["ln2"], axis=-1),
              n("MatMul", ["ln2", "w1"], ["h0"], name="ffn_up"), n("Add", ["h0", "b1"], ["h1"]), n("Relu", ["h1"], ["h"]),
              n("MatMul", ["h", "w2"], ["f0"], name="ffn_down"), n("Add", ["f0", "b2"], ["f"]), n("Add", ["r", "f"], ["y"])]
    graph = helper.make_graph(nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, dim])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, dim])], inits)
    return _model(graph), {"x": RNG.normal(0, 1, (1, seq, dim)).astype(np.float32)}


def _model(graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def quantize(model, sample: dict[str, np.ndarray], folder: Path, mode: str, activations: str = "int8") -> Path:
    """The graph ONNX Runtime's quantizer writes: mode "QOperator" or "QDQ" (quantize_static, per-channel
    int8 weights, `activations` int8 or uint8, asymmetric), or "dynamic" (quantize_dynamic, uint8 weights
    as ORT needs for ConvInteger)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

    src, dst = folder / "float.onnx", folder / f"{mode}_{activations}.onnx"
    onnx.save(model, str(src))
    if mode == "dynamic":
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QUInt8)
        return dst
    rng = np.random.default_rng(3)
    batches = [{k: (v + rng.normal(0, 0.1, v.shape)).astype(np.float32) for k, v in sample.items()} for _ in range(8)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(batches)

        def get_next(self):
            return next(self.items, None)

    act = QuantType.QInt8 if activations == "int8" else QuantType.QUInt8
    quantize_static(str(src), str(dst), Reader(), quant_format=getattr(QuantFormat, mode), per_channel=True,
                    activation_type=act, weight_type=QuantType.QInt8)
    return dst


def ort_exact(path: Path) -> Path:
    """For a graph with uint8 activations: the same graph with every int8 weight stored as uint8 (w + 128, zero
    point + 128): identical integers, but ONNX Runtime's x86 uint8 x int8 kernels saturate int16 pair
    sums (vpmaddubsw) while its uint8 x uint8 kernels are exact. The reference for uint8 graphs."""
    from edgebuild.compress.ort_reference import exact_weights

    out = path.with_name(path.stem + "_u8.onnx")
    onnx.save(exact_weights(onnx.load(str(path))), str(out))
    return out


def ort_run(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(None, inputs)


def output_step(path: Path) -> float:
    """The quantization step of the graph's output: the scale of the last DequantizeLinear."""
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    last = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == model.graph.output[0].name]
    return float(inits[last[0].input[1]]) if last else 0.0


def ort_unfused(path: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """ONNX Runtime running a QDQ graph as written (its QDQ fusions off). Fused, ONNX Runtime drifts from
    its own unfused result by several output steps on a transformer block (its QLinear kernels round
    differently, and int8 activations become uint8 on x86, whose kernels saturate)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=["QDQSelectorActionTransformer"]).run(None, inputs)


def build(path: Path):
    """(Relax module, model.so path) of edgebuild's host build of the graph at `path`."""
    from edgebuild.compile import relax

    mod = relax.import_onnx(path)
    so = path.with_suffix(".so")
    relax.compile_host(mod, so)
    return mod, so


def run(so: Path, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    from edgebuild.compile.runner import HostModel

    return HostModel(so, list(inputs))(inputs)


def heavy_ops(mod) -> list[tuple[str, tuple[str, ...], str]]:
    """(op, input dtypes, output dtype) of every conv2d and matmul in the imported Relax module."""
    import tvm
    from tvm import relax

    found = []

    @relax.expr_functor.visitor
    class Visit(relax.PyExprVisitor):
        def visit_call_(self, call):
            if isinstance(call.op, tvm.ir.Op) and call.op.name in ("relax.nn.conv2d", "relax.matmul"):
                found.append((call.op.name, tuple(str(a.ty.dtype) for a in call.args[:2]), str(call.ty.dtype)))
            super().visit_call_(call)

    Visit().visit_expr(mod["main"])
    return found


def int8_weights(path: Path, min_size: int = 64) -> list[np.ndarray]:
    """The int8/uint8 weight matrices and kernels of a quantized graph (not its 1-D zero points or
    QLinearAdd operands)."""
    model = onnx.load(str(path))
    arrays = [numpy_helper.to_array(i) for i in model.graph.initializer]
    return [a for a in arrays if a.dtype in (np.int8, np.uint8) and a.ndim >= 2 and a.size >= min_size]


def stored_int8(weight: np.ndarray, data: bytes) -> bool:
    """Whether model.so holds `weight`'s int8 bytes (in its layout, HWIO for convs, or transposed), and
    no float32/int32 widening of them."""
    layouts = int8_layouts(weight)
    if weight.ndim == 4:
        layouts.append(weight.transpose(2, 3, 1, 0))
    signed = [(w.astype(np.int16) - 128).astype(np.int8) if w.dtype == np.uint8 else w for w in layouts]
    verbatim = any(np.ascontiguousarray(w).tobytes() in data for w in signed)
    widened = any(np.ascontiguousarray(w).astype(t).tobytes()[:64] in data for w in signed for t in (np.float32, np.int32))
    return verbatim and not widened
