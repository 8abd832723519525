"""Helpers shared by the schedule rules."""

from __future__ import annotations

from dataclasses import dataclass


# TVM's kMaxStackAlloca: a tile's accumulator buffer this large or larger becomes a heap workspace that
# every tile allocates, zeroes (memset) and frees through the runtime instead of a stack array that LLVM
# keeps in registers. Tiles stay below it.
STACK_BYTES = 1024


@dataclass(frozen=True)
class Params:
    vec: int  # fp32 lanes of one SIMD register
    max_acc: int  # accumulator registers a matmul micro-kernel may use
    conv_max_acc: int  # fewer for convolutions (several reduction loops): measured faster
    par_min_macs: int = 1_000_000  # below this a kernel runs on one thread (fork/join costs microseconds)
    par_min_elems: int = 2048  # the same for element-wise kernels


def try_(fn, *args, **kwargs):
    """fn's result, or False when a TVM schedule primitive refuses (the caller tries the next rule).
    Only TVM's errors mean "refused": any other error is a bug in the rule and propagates."""
    from ..tvm_errors import is_tvm_error

    try:
        result = fn(*args, **kwargs)
        return True if result is None else result
    except Exception as exc:
        if not is_tvm_error(exc):
            raise
        return False


def extent(sch, loop) -> int | None:
    from tvm import tirx

    e = sch.get(loop).extent
    return int(e) if isinstance(e, (tirx.IntImm, int)) else None


def iter_kinds(sch, block) -> list[str]:
    """'S' spatial, 'R' reduction, 'O' other, per block iterator."""
    from tvm import tirx

    kinds = {tirx.IterVar.DataPar: "S", tirx.IterVar.CommReduce: "R"}
    return [kinds.get(iv.iter_type, "O") for iv in sch.get(block).iter_vars]


def inline_all_but(sch, keep: set[str]) -> None:
    """Inline every block not named in `keep`, until nothing more inlines."""
    changed = True
    while changed:
        changed = False
        for block in sch.get_child_blocks(sch.get_sblock("root")):
            if sch.get(block).name_hint in keep:
                continue
            if try_(sch.compute_inline, block) is True or try_(sch.reverse_compute_inline, block) is True:
                changed = True
                break


def parallel_tiles(sch, block, outer: list, params: Params) -> None:
    """Fuse a micro-kernel's tile loops and run them in parallel when the kernel is big enough to pay for it."""
    fused = sch.fuse(*outer) if len(outer) > 1 else outer[0]
    macs = 1
    for loop in sch.get_loops(block):
        macs *= extent(sch, loop) or 1
    if macs >= params.par_min_macs:
        sch.parallel(fused)


def vectorize_by(sch, loop, width: int | None) -> None:
    """Vectorise `loop` as unrolled `width`-lane vectors. One 24- or 48-lane vector of an epilogue
    (requantize: round, clamps, casts) is scalarised by LLVM through the stack: on MobileNetV2 int8
    such epilogues ran its 1x1 expansion convs at 4-7 GMAC/s against 20-35 for the others."""
    e = extent(sch, loop)
    if width and e and e > width and e % width == 0:
        outer, inner = sch.split(loop, [None, width])
        sch.unroll(outer)
        sch.vectorize(inner)
    else:
        sch.vectorize(loop)


def vectorize_inner(sch, block, params: Params) -> None:
    loops = sch.get_loops(block)
    if loops:
        e = extent(sch, loops[-1])
        if e and e >= params.vec and e % params.vec == 0:
            _, inner = sch.split(loops[-1], [None, params.vec])
            sch.vectorize(inner)


def par_vec(sch, block, params: Params) -> None:
    """Parallelise (and for element-wise blocks vectorise) a block's loop nest.

    Element-wise and layout blocks are vectorised only where every input is contiguous along the
    innermost axis, with vectors that divide it; otherwise that axis stays a scalar inner loop.
    Vectorising a flat loop regardless made every lane a div/mod gather (a 320x320x3 transpose
    0.49 -> 0.02 ms, a 36-channel concat 0.99 -> 0.035 ms, one AVX-512 core)."""
    loops = sch.get_loops(block)
    if not loops:
        return
    kinds = iter_kinds(sch, block)
    if "R" in kinds:  # parallel over the spatial prefix only
        spatial = loops[: max(1, min(len(loops), kinds.count("S")))]
        fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
        if (extent(sch, fused) or 0) >= 2:
            sch.parallel(fused)
        return
    total = 1
    for loop in loops:
        total *= extent(sch, loop) or 1
    width = _widest_lane(extent(sch, loops[-1]), params)
    if len(loops) == 1 or (width and _contiguous_inner(sch, block)):
        # whole vectors never straddle a row of the innermost axis, so one flat loop is contiguous
        outer, inner = sch.split(sch.fuse(*loops) if len(loops) > 1 else loops[0], [None, width or 1])
    else:
        outer, inner, width = sch.fuse(*loops[:-1]), loops[-1], None
    if width:
        sch.vectorize(inner)
    if total >= params.par_min_elems and (extent(sch, outer) or 0) >= 2:
        sch.parallel(outer)


def _widest_lane(n: int | None, params: Params) -> int | None:
    return next((w for w in (params.vec, params.vec // 2, params.vec // 4) if w >= 4 and n and n % w == 0), None)


def _contiguous_inner(sch, block) -> bool:
    """Whether every input's last index is the block's innermost iterator plus a constant offset."""
    from tvm import tirx
    from tvm.sym.pattern import detect_linear_equation

    b = sch.get(block)
    last = b.iter_vars[-1].var

    def unit_stride(index) -> bool:
        coefficients = detect_linear_equation(index, [last])
        return len(coefficients) == 2 and isinstance(coefficients[0], tirx.IntImm) and int(coefficients[0]) == 1

    return all(unit_stride(r.region[-1].min) for r in b.reads if r.region)
