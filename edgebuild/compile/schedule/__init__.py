"""Measurement-free CPU schedule rules for fused Relax kernels: the default that makes unseen models fast.

Every fused PrimFunc without a tuning record gets the first rule that applies:
  int8       a packed int8 dot block (int8_matmul.py): micro-kernel on the target's dot-product
             instruction, epilogue per tile (int8.py); convs too (int8_conv.py)
  int8_dw    an int8 depthwise conv (int8_conv.py): the gemm micro-kernel, vectorised over channels
             with widening int8 x int8 -> int16 products (no dot product fits depthwise)
  gemm       one multiply-accumulate block (matmul, batch matmul, NHWC conv incl. depthwise):
             a register-blocked micro-kernel with its epilogue fused at tile level (gemm.py)
  reduce_vec pooling / mean over non-innermost axes, vectorised over channels (reduction.py)
  reduce_full a whole tensor to one value (min/max of run-time quantization): parallel vector
             partial results (reduction.py)
  rowwise    softmax / layer norm: every block computed per row, rows in parallel (reduction.py)
  inject     element-wise and layout kernels: inline, fuse, vectorise, parallel (common.py)
Measured here (2-core AVX-512 host, batch 1) against ONNX Runtime: MiniLM ~1.0x, ResNet-18 and
MobileNetV2 1-1.8x, with builds of seconds; the untuned default pipeline is 24-138x.
"""

from __future__ import annotations

from ..tvm_errors import is_tvm_error
from .common import Params, par_vec, inline_all_but, iter_kinds, try_
from .gemm import is_mac, schedule_gemm
from .int8 import dw_block, int8_block, schedule_int8
from .reduction import schedule_full_reduce, schedule_reduce_vec, schedule_rowwise

SCHEDULED = "tirx.is_scheduled"


def params_for(target) -> Params:
    """Vector lanes and accumulator registers of the target's SIMD unit (fp32)."""
    from tvm.target import codegen

    triple = str(target.attrs.get("mtriple", ""))
    if triple.startswith("aarch64"):
        return Params(vec=4, max_acc=24, conv_max_acc=14)  # NEON: 32 x 128-bit registers
    if triple.startswith("arm"):
        return Params(vec=4, max_acc=12, conv_max_acc=8)  # ARMv7 NEON: 16 q registers
    if codegen.target_has_features("avx512f", target):
        return Params(vec=16, max_acc=24, conv_max_acc=14)  # 32 zmm
    if codegen.target_has_features("avx2", target):
        return Params(vec=8, max_acc=12, conv_max_acc=10)  # 16 ymm
    return Params(vec=4, max_acc=12, conv_max_acc=8)  # SSE


def vectorisable_nearbyint() -> None:
    """Marks TIR's nearbyint (what round lowers to: every int8 requantize) vectorisable, like round and
    floor already are. TVM 0.27 lacks the attribute, so its vectoriser scalarised each whole int8
    epilogue loop; LLVM then vectorised across rows, with one byte store per output (vpextrb). Measured
    here: a 56x56x144 int8 depthwise conv took 1.01 ms with its requantize vs 0.32 ms without."""
    import tvm

    op = tvm.ir.Op.get("tirx.nearbyint")
    if not op.get_attr("TVectorizable"):
        tvm.ir.register_op_attr("tirx.nearbyint", "TVectorizable", True)


def schedule_module(mod, target) -> tuple[object, dict[str, str]]:
    """`mod` with every unscheduled PrimFunc scheduled by the first rule that applies, and the rule
    that scheduled each of them ("none": no rule could, the kernel keeps TVM's default)."""
    from tvm import tirx

    params = params_for(target)
    vectorisable_nearbyint()
    kinds, new = {}, {}
    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc) or (func.attrs and SCHEDULED in func.attrs):
            continue
        try:
            sch, kind = schedule_func(func, params)
        except Exception as exc:  # TVM refusing every rule: correct, unscheduled. A bug in a rule propagates.
            if not is_tvm_error(exc):
                raise
            sch, kind = None, "none"
        kinds[gv.name_hint] = kind
        if sch is not None:
            new[gv] = sch.mod["main"].with_attr(SCHEDULED, True)
    for gv, func in new.items():
        mod[gv] = func
    return mod, kinds


def schedule_func(func, params: Params):
    """(schedule, rule name); each rule starts from a fresh schedule and falls through on failure."""
    from tvm import s_tir

    def fresh():
        return s_tir.Schedule(func)

    sch = fresh()
    if int8_block(sch) is not None:
        if try_(schedule_int8, sch, int8_block(sch), params) is True:
            return sch, "int8"
        sch = fresh()
    if dw_block(sch) is not None:
        if try_(schedule_gemm, sch, dw_block(sch), params) is True:
            return sch, "int8_dw"
        sch = fresh()
    macs = [b for b in sch.get_child_blocks(sch.get_sblock("root")) if is_mac(sch, b)]
    if len(macs) == 1:
        sch = fresh()
        block = [b for b in sch.get_child_blocks(sch.get_sblock("root")) if is_mac(sch, b)][0]
        if try_(schedule_gemm, sch, block, params) is True:
            return sch, "gemm"

    def prepared():
        sch = fresh()
        root = sch.get_sblock("root")
        outs = {sch.get(o).name_hint for o in sch.get_output_blocks(root)}
        reductions = [sch.get(b).name_hint for b in sch.get_child_blocks(root) if "R" in iter_kinds(sch, b)]
        inline_all_but(sch, outs | set(reductions))
        return sch, reductions

    sch, reductions = prepared()
    if len(reductions) == 1:
        sch, _ = prepared()
        if try_(schedule_reduce_vec, sch, sch.get_sblock(reductions[0]), params) is True:
            return sch, "reduce_vec"
        sch, _ = prepared()
        if try_(schedule_full_reduce, sch, sch.get_sblock(reductions[0]), params) is True:
            return sch, "reduce_full"
    if reductions:
        sch, _ = prepared()
        if try_(schedule_rowwise, sch, params) is True:
            return sch, "rowwise"
    sch, _ = prepared()
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        try_(par_vec, sch, block, params)
    return sch, "reduce" if reductions else "inject"
