"""int8-dynamic: int8 weights, activations quantized at run time (for Linear/attention-heavy models).

Every MatMul/Gemm with a weight becomes DynamicQuantizeLinear + MatMulInteger, and embedding
tables (Gather on an initializer) are stored int8 and dequantized after the lookup: MiniLM's word
embeddings are about half its bytes. edgebuild/compile/qlinear.py compiles MatMulInteger as an
int8 x int8 -> int32 matmul on the int8 weight (TVM's own converter would widen it to int32).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .base import Context, Technique
from .onnx_tools import ort_quiet, quantizer_io


@dataclass(frozen=True)
class Int8Dynamic:
    per_channel: bool = True
    embeddings: bool = True  # store Gather tables (word embeddings) as int8 too
    operators: list[Literal["MatMul", "Gemm"]] = ("MatMul",)
    reduce_range: bool = False  # 7-bit weights, as in int8-static


def apply(proto, config: Int8Dynamic, ctx: Context):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = list(config.operators) + (["Gather"] if config.embeddings else [])
    with quantizer_io(proto) as (src, dst), ort_quiet():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=config.per_channel,
                         op_types_to_quantize=ops, reduce_range=config.reduce_range)
        return dst.load()


TECHNIQUE = Technique("int8-dynamic", Int8Dynamic, "onnx", apply,
                      "int8 weights (embedding tables too), activations quantized at run time", int8=True)
