"""Dot-product micro-kernels for int8 matmul/conv, one per instruction family, and which one a target gets.

Each kernel computes C[lanes] += sum_g A[g] * B[lanes, g] (int32 accumulators), the shape
every int8 instruction below wants: one group of `group` activations broadcast against a packed
weight tile of lanes x group bytes. Weights are packed at build time as [N/lanes, K/group, lanes, group]
(int8_matmul.py), so one tile is one contiguous vector load.

  vnni      x86 AVX-512 VNNI  vpdpbusd          u8 x s8, 16 lanes x 4 (TVM's dot_16x4_vnni
                                                 declares the pre-LLVM-20 signature and fails to verify)
  avx512wd  x86 AVX-512       vpmovsxbw+vpmaddwd  i16 x s8, 16 lanes x 2
  avx2ub    x86 AVX2          vpmaddubsw+vpmaddwd  u8 x s8, 8 lanes x 4 (7-bit weights, see below)
  avx2sign  x86 AVX2          vpsignb+vpmaddubsw+vpmaddwd  s8 x s8, 8 lanes x 4
  avx2wd    x86 AVX2          vpmovsxbw+vpmaddwd  i16 x s8, 8 lanes x 2
  sdot      AArch64 +dotprod  sdot              s8 x s8, 4 lanes x 4
  neon      AArch64           smull+saddlp+addp  s8 x s8, 4 lanes x 4
  neon32    ARMv7 NEON        vmull.s8+vpadal.s16  s8 x s8, 4 lanes x 2 (one D-register weight tile)
avx2sign keeps both operands int8 and stays exact with the sign trick: vpmaddubsw (u8 x s8 ->
saturating int16 pair sums) gets |a| as u8 (vpsignb(a, a); -128 reads as 128) and sign(a) * w as s8
(vpsignb(w, a)), so each pair sum is at most 2 * 128 * 127 < 2^15; vpmaddwd with int16 ones adds
the pairs into int32. vpsignb cannot negate -128, so a weight holding -128 gets the scheme's
`fallback` (avx2wd: activations widened to int16 once per kernel, vpmaddwd, exact for any values),
and so does an operand packed at run time (its values are unknown at build time).
avx2ub drops the sign step (on znver3 vpsignb competes with the two multiplies for the same two
ports: 1.5 -> 1.1 cycles per 32 multiplies, measured by a scratch loop here). It is exact only when
no int16 pair sum saturates: u8 activations (up to 255) times a weight pair whose magnitudes sum to at
most 128, which every weight quantized to 7 bits (ONNX Runtime's reduce_range, [-64, 64]) satisfies.
A weight with a larger pair gets avx2sign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ATTR = "edgebuild_int8_dot"  # marks a packed dot block for the int8 schedule rule (schedule/int8.py)
_REGISTERED: set[str] = set()


@dataclass(frozen=True)
class Scheme:
    name: str
    intrin: str  # registered TensorIntrin
    a_dtype: str  # what the kernel reads for activations: uint8, int8 or int16
    lanes: int  # int32 outputs per instruction
    group: int  # reduction elements per lane per instruction
    vectors: int  # SIMD registers: bounds the accumulator tile
    fallback: str | None = None  # scheme for weights this one cannot compute exactly (`takes`)
    takes: str | None = None  # which weights: "no-min" (no -128), "pairs-128" (|w[2i]| + |w[2i+1]| <= 128)
    scratch: int = 1  # registers one step needs beside accumulators and weights (broadcast, temporaries)
    row_ops: int = 1  # vector instructions per row and step outside the multiply (the broadcast)


SCHEMES = {s.name: s for s in (
    Scheme("vnni", "edgebuild_vnni_16x4", "uint8", 16, 4, 32),
    Scheme("avx512wd", "edgebuild_avx512_wd_16x2", "int16", 16, 2, 32),
    # avx2sign's scratch: a, |a|, ones, a temporary; per row: the broadcast and |a|
    # avx2ub's scratch: the broadcast, ones, a temporary
    Scheme("avx2ub", "edgebuild_avx2_ub_8x4", "uint8", 8, 4, 16, fallback="avx2sign", takes="pairs-128", scratch=3),
    Scheme("avx2sign", "edgebuild_avx2_sign_8x4", "int8", 8, 4, 16, fallback="avx2wd", takes="no-min", scratch=4,
           row_ops=2),
    Scheme("avx2wd", "edgebuild_avx2_wd_8x2", "int16", 8, 2, 16),
    Scheme("sdot", "edgebuild_sdot_4x4", "int8", 4, 4, 32),
    Scheme("neon", "edgebuild_neon_4x4", "int8", 4, 4, 32),
    Scheme("neon32", "edgebuild_armv7_neon_4x2", "int8", 4, 2, 16),
)}


def scheme_for(target) -> Scheme | None:
    """The int8 micro-kernel for `target` (None: no packed int8 kernel; matmuls stay as TVM lowers them)."""
    from tvm.target import codegen

    if target.kind.name != "llvm":
        return None
    triple = str(target.attrs.get("mtriple", ""))
    if triple.startswith("aarch64"):
        if codegen.target_has_features("dotprod", target):
            return register(SCHEMES["sdot"])
        return register(SCHEMES["neon"])
    if triple.startswith(("armv7", "thumbv7")) and codegen.target_has_features("neon", target):
        return register(SCHEMES["neon32"])
    if triple.startswith(("x86_64", "i686")) or not triple:
        if codegen.target_has_features("avx512vnni", target):
            return register(SCHEMES["vnni"])
        if codegen.target_has_features("avx512bw", target):
            return register(SCHEMES["avx512wd"])
        if codegen.target_has_features("avx2", target):
            return register(SCHEMES["avx2ub"])
    return None


def for_weight(scheme: Scheme, weight, axis: int = 0) -> Scheme:
    """The first scheme of `scheme`'s fallback chain that computes `weight` exactly (numpy int8, reduced
    in groups along `axis`; None: packed at run time, values unknown)."""
    while scheme.fallback is not None and not _takes(scheme, weight, axis):
        scheme = SCHEMES[scheme.fallback]
    return register(scheme)


def _takes(scheme: Scheme, weight, axis: int) -> bool:
    if weight is None:
        return scheme.takes is None
    if scheme.takes == "no-min":
        return int(weight.min(initial=0)) > -128
    if scheme.takes == "pairs-128":  # the pairs vpmaddubsw adds: elements 2i and 2i+1 along the reduction
        mags = np.abs(np.moveaxis(weight, axis, -1).astype(np.int16))
        if mags.shape[-1] % 2:
            mags = np.concatenate([mags, np.zeros((*mags.shape[:-1], 1), np.int16)], axis=-1)
        return mags.size == 0 or int((mags[..., 0::2] + mags[..., 1::2]).max()) <= 128
    return True


def operand_shift(scheme: Scheme, x_dtype: str) -> int:
    """What the kernel adds to `x_dtype` activations to read them as the scheme's a_dtype (u8 <-> s8 by 128;
    the caller corrects the result with the weight's sums)."""
    return {("uint8", "int8"): 128, ("int8", "uint8"): -128}.get((scheme.a_dtype, x_dtype), 0)


def register(scheme: Scheme) -> Scheme:
    """`scheme`, with its tensor intrinsic registered in TVM."""
    from tvm.s_tir import TensorIntrin

    if scheme.intrin not in _REGISTERED:
        try:
            TensorIntrin.register(scheme.intrin, *_intrin(scheme), override=True)
        except TypeError:  # older signature without override
            TensorIntrin.register(scheme.intrin, *_intrin(scheme))
        _REGISTERED.add(scheme.intrin)
    return scheme


def _intrin(scheme: Scheme):
    # Written here rather than imported from tvm.s_tir.tensor_intrin: importing arm_cpu parses every
    # SME intrinsic (minutes of CPU), and TVM's VNNI one declares the pre-LLVM-20 signature.
    from tvm.script import tirx as T

    lanes, group, a_dtype = scheme.lanes, scheme.group, scheme.a_dtype
    bytes_ = lanes * group

    # Expressions are built by these Python helpers and nested, never bound to a name inside a prim_func:
    # TVM makes a named vector a heap workspace that every register tile allocates and frees.
    def spread(A, load: str, word: str, count: int, dtype: str):
        """The group of activations (one `word`) broadcast to every lane of a `dtype` register."""
        return T.reinterpret(T.broadcast(T.reinterpret(A.vload([0], load), dtype=word), count), dtype=dtype)

    def llvm(name: str, *args, dtype: str):
        return T.call_llvm_pure_intrin(T.llvm_lookup_intrinsic_id(name), *args, dtype=dtype)

    @T.prim_func(s_tir=True)
    def desc(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
             C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
            T.writes(C[0:lanes])
            for i in T.serial(0, lanes):
                for k in T.serial(0, group):
                    with T.sblock("update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")

    if scheme.name == "vnni":
        @T.prim_func(s_tir=True)
        def impl(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                 C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, lanes)] = llvm(
                    "llvm.x86.avx512.vpdpbusd.512", C.vload([0], dtype="int32x16"),
                    spread(A, "uint8x4", "int32", lanes, "int8x64"), B.vload([0, 0], dtype="int8x64"), dtype="int32x16")
        return desc, impl

    if scheme.name == "sdot":
        @T.prim_func(s_tir=True)
        def impl_sdot(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                      C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, 4)] = llvm(
                    "llvm.aarch64.neon.sdot.v4i32.v16i8", C.vload([0], dtype="int32x4"),
                    spread(A, "int8x4", "int32", 4, "int8x16"), B.vload([0, 0], dtype="int8x16"), dtype="int32x4")
        return desc, impl_sdot

    if scheme.name == "neon":  # smull (8 x i16 products), saddlp (pairs -> i32), addp (pairs of pairs)
        def half(A, b):  # 2 lanes x 4 products of one weight half, pair sums
            return llvm("llvm.aarch64.neon.saddlp.v4i32.v8i16",
                        llvm("llvm.aarch64.neon.smull.v8i16", spread(A, "int8x4", "int32", 2, "int8x8"), b,
                             dtype="int16x8"), dtype="int32x4")

        @T.prim_func(s_tir=True)
        def impl_neon(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                      C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, 4)] = C.vload([0], dtype="int32x4") + llvm(
                    "llvm.aarch64.neon.addp.v4i32",
                    half(A, T.vectorlow(B.vload([0, 0], dtype="int8x16"), dtype="int8x8")),
                    half(A, T.vectorhigh(B.vload([0, 0], dtype="int8x16"), dtype="int8x8")), dtype="int32x4")
        return desc, impl_neon

    if scheme.name == "avx2ub":
        @T.prim_func(s_tir=True)
        def impl_ub(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                    C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, 8)] = C.vload([0], dtype="int32x8") + llvm(
                    "llvm.x86.avx2.pmadd.wd",
                    llvm("llvm.x86.avx2.pmadd.ub.sw", spread(A, "uint8x4", "int32", 8, "int8x32"),
                         B.vload([0, 0], dtype="int8x32"), dtype="int16x16"),
                    T.broadcast(T.int16(1), 16), dtype="int32x8")
        return desc, impl_ub

    if scheme.name == "avx2sign":
        def a(A):
            return spread(A, "int8x4", "int32", 8, "int8x32")

        @T.prim_func(s_tir=True)
        def impl_sign(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                      C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, 8)] = C.vload([0], dtype="int32x8") + llvm(
                    "llvm.x86.avx2.pmadd.wd",
                    llvm("llvm.x86.avx2.pmadd.ub.sw", llvm("llvm.x86.avx2.psign.b", a(A), a(A), dtype="int8x32"),
                         llvm("llvm.x86.avx2.psign.b", B.vload([0, 0], dtype="int8x32"), a(A), dtype="int8x32"),
                         dtype="int16x16"),
                    T.broadcast(T.int16(1), 16), dtype="int32x8")
        return desc, impl_sign

    if scheme.name == "neon32":  # vmull.s8: 8 exact i16 products (2 per lane); vpadal.s16 adds each pair into C
        @T.prim_func(s_tir=True)
        def impl_neon32(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                        C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
            with T.sblock("root"):
                T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
                T.writes(C[0:lanes])
                C[T.ramp(T.int32(0), 1, 4)] = llvm(
                    "llvm.arm.neon.vpadals.v4i32.v8i16", C.vload([0], dtype="int32x4"),
                    llvm("llvm.arm.neon.vmulls.v8i16", spread(A, "int8x2", "int16", 4, "int8x8"),
                         B.vload([0, 0], dtype="int8x8"), dtype="int16x8"),
                    dtype="int32x4")
        return desc, impl_neon32

    madd = "llvm.x86.avx2.pmadd.wd" if lanes == 8 else "llvm.x86.avx512.pmaddw.d.512"

    @T.prim_func(s_tir=True)
    def impl_wd(A: T.Buffer((group,), a_dtype, offset_factor=1), B: T.Buffer((lanes, group), "int8", offset_factor=1),
                C: T.Buffer((lanes,), "int32", offset_factor=1)) -> None:
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:group], B[0:lanes, 0:group])
            T.writes(C[0:lanes])
            C[T.ramp(T.int32(0), 1, lanes)] = C.vload([0], dtype=f"int32x{lanes}") + llvm(
                madd, spread(A, "int16x2", "int32", lanes, f"int16x{bytes_}"),
                T.cast(B.vload([0, 0], dtype=f"int8x{bytes_}"), f"int16x{bytes_}"), dtype=f"int32x{lanes}")
    return desc, impl_wd
