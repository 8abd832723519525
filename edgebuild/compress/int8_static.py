"""int8-static: post-training static int8 (per-channel symmetric weights, per-tensor symmetric
activations calibrated on real samples), written as QLinearConv/QLinearMatMul/QGemm.

ONNX Runtime's quantizer computes the scales and writes the quantized graph; edgebuild's own
lowering (edgebuild/compile/qlinear.py) compiles those operators to int8 x int8 -> int32 Relax, so
the int8 weights reach model.so as int8. Symmetric activations keep every zero point 0, so the
lowering adds no zero-point corrections (it handles any, see compile/qint.py) and int8_fuse can fold
Relu chains.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .base import Context, Technique
from .int8_fuse import fold_relu_chains
from .onnx_tools import ort_quiet, quantizer_io


@dataclass(frozen=True)
class Int8Static:
    calibration_samples: int = 200
    method: Literal["minmax", "entropy", "percentile"] = "minmax"
    per_channel: bool = True
    fold_relu: bool = True  # keep Relu/Clip/MaxPool between int8 convolutions in int8 (see int8_fuse)
    operators: list[Literal["Conv", "MatMul", "Gemm"]] = ("Conv", "MatMul", "Gemm")
    # Regular expressions (re.search) on node names: matching nodes stay fp32, e.g. a transformer's FFN
    # down-projection, whose input (the GELU output) has outliers that one int8 scale cannot hold.
    exclude: list[str] = ()
    # 7-bit weights (ONNX Runtime's reduce_range): AVX2 without VNNI multiplies them without the sign
    # step, exactly (compile/int8_intrin.py, avx2ub), at some cost in accuracy
    reduce_range: bool = False

    def __post_init__(self):
        if self.calibration_samples < 1:
            raise ValueError("calibration-samples: must be >= 1")
        for pattern in self.exclude:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"exclude: {pattern!r} is not a regular expression ({exc})") from None


def excluded_nodes(proto, config: Int8Static) -> list[str]:
    """Names of the nodes of `proto` that config.exclude keeps in fp32."""
    patterns = [re.compile(p) for p in config.exclude]
    return [n.name for n in proto.graph.node if n.name and any(p.search(n.name) for p in patterns)]


def apply(proto, config: Int8Static, ctx: Context):
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    samples = ctx.calibration(config.calibration_samples)
    shown = ctx.progress.task("int8 calibration", total=len(samples), unit="samples")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(samples)

        def get_next(self):
            item = next(self.items, None)
            if item is not None:
                shown.advance()
            return item

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[config.method]
    exclude = excluded_nodes(proto, config)
    if config.exclude:
        ctx.notes["int8_excluded_nodes"] = len(exclude)
    with quantizer_io(proto) as (src, dst), ort_quiet(), shown:
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QOperator,
                        per_channel=config.per_channel, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=list(config.operators),
                        nodes_to_exclude=exclude, reduce_range=config.reduce_range,
                        calibrate_method=method,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        quantized = dst.load()
    if config.fold_relu:
        quantized, folded = fold_relu_chains(quantized)
        ctx.notes["relu_chains_folded"] = folded
    return quantized


TECHNIQUE = Technique("int8-static", Int8Static, "onnx", apply,
                      "post-training static int8: calibrated activations, per-channel weights, integer conv/matmul",
                      int8=True)
