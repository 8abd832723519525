"""The gemm rule: one multiply-accumulate block becomes a register-blocked micro-kernel.

Loop order [no, batch.., mo, reductions.., ki (unrolled), mr (unrolled), nr (vectorised)]: N is the
innermost spatial axis (output channels / columns), M the innermost other non-unit spatial axis
(output width / rows). The epilogue (bias, residual add, activation) is computed per tile, so the
intermediate stays in registers. Outer loops are fused and run in parallel when the kernel is big
enough to pay for it.
"""

from __future__ import annotations

from .common import (STACK_BYTES, Params, extent, inline_all_but, iter_kinds, par_vec, parallel_tiles, try_,
                     vectorize_by)


def is_mac(sch, block) -> bool:
    """C[..] += A[..] * B[..] (optionally with casts), with an init: what the micro-kernel computes."""
    from tvm import tirx

    b = sch.get(block)
    if "R" not in iter_kinds(sch, block) or len(b.reads) < 2 or b.init is None:
        return False
    if not isinstance(b.body, tirx.BufferStore) or not isinstance(b.body.value, tirx.Add):
        return False
    if not str(b.body.buffer.dtype).startswith("float"):
        # Integer (int8 x int8 -> int32) kernels keep their reduction innermost, where LLVM turns
        # it into dot-product instructions (sdot/udot); vectorising across N would lose them.
        return False
    term = b.body.value.b
    return isinstance(term, tirx.Mul) or (isinstance(term, tirx.Cast) and isinstance(term.value, tirx.Mul))


# The score ignores cache traffic: on a 7x7x1024 output (512 inputs) a predicated 2x32 tile ran 1.2-1.5x
# slower than whole 7x8 tiles (one AVX2 core), though it scores 1.33x better. A tail must clearly win.
TAIL_GAIN = 1.5


def lane(nr: int, params: Params) -> int | None:
    """Vector width for an nr-wide tile. Never vectorise 24 or 48 lanes at once: LLVM scalarises
    such vectors through the stack (measured 15x slower than unrolled 16-lane vectors)."""
    for width in (params.vec, params.vec // 2, params.vec // 4):
        if width >= 4 and nr % width == 0:
            return width
    return None


def choose_tile(m: int, n: int, params: Params, max_acc: int) -> tuple[int, int]:
    """(mr, nr): the register tile with the best compute-to-load ratio that fits the accumulators (and
    STACK_BYTES: 24 AVX-512 accumulators would not).

    mr need not divide m: the last row tile is then predicated (a 97-row STFT conv got 1-row tiles,
    about 3x slower than 3-row tiles with a tail, one AVX2 core). Its idle rows count as waste, and
    a tail must beat the best whole tiling by TAIL_GAIN."""
    vec, best, whole = params.vec, None, None
    nrs = [x for x in (4 * vec, 3 * vec, 2 * vec, vec) if n % x == 0]
    if not nrs:  # e.g. 24, 40, 72 channels: half-width vectors
        half = max(1, vec // 2)
        nrs = [x for x in (6 * half, 5 * half, 4 * half, 3 * half, 2 * half, half) if n % x == 0]
        nrs = nrs or ([n] if n <= 4 * vec else [])
    for nr in nrs:
        vectors = -(-nr // (lane(nr, params) or vec))
        for mr in range(1, min(m, 16) + 1):
            if mr * vectors > max_acc or mr * nr * 4 >= STACK_BYTES:
                continue
            score = (mr * nr) / (mr + nr / vec) * m / (-(-m // mr) * mr)
            if m % mr == 0 and (whole is None or score > whole[0] + 1e-9):
                whole = (score, mr, nr)
            if m % mr and (best is None or score > best[0] + 1e-9):
                best = (score, mr, nr)
    if whole is not None and (best is None or best[0] < whole[0] * TAIL_GAIN):
        best = whole
    if best is None:
        return 1, (vec if n >= vec else n)
    return best[1], best[2]


def separate_padding(sch, block, mac) -> bool:
    """Whether `block` pads (a conditional copy) the input of a MAC block that reads each padded
    element for every output channel: then the copy pays, inlined it tests bounds at every MAC.
    A depthwise conv reads each element for one channel only: there the copy cost 2-3x (PicoDet's
    depthwise convs, one AVX2 core). TVM's conv2d also emits `pad_temp` for zero padding, a plain
    copy of the whole input: that one inlines."""
    from tvm import tirx
    from tvm.ir import TensorLoad  # what a TIR BufferLoad is in this TVM

    b, m = sch.get(block), sch.get(mac)
    if "pad" not in b.name_hint or (isinstance(b.body, tirx.BufferStore) and isinstance(b.body.value, TensorLoad)):
        return False
    n_var = m.iter_vars[[k for k in iter_kinds(sch, mac)].index("R") - 1].var
    written = b.body.buffer
    return not any(v.same_as(n_var) for r in m.reads if r.source.same_as(written.data) or r.source.same_as(written)
                   for rng in r.region for v in tirx.analysis.undefined_vars(rng.min))


def schedule_gemm(sch, block, params: Params) -> bool:
    loops, kinds = sch.get_loops(block), iter_kinds(sch, block)
    name = sch.get(block).name_hint
    if len(loops) != len(kinds):
        return False
    spatial = [loop for loop, k in zip(loops, kinds) if k == "S"]
    reduction = [loop for loop, k in zip(loops, kinds) if k == "R"]
    if not spatial or kinds != ["S"] * len(spatial) + ["R"] * len(reduction):
        return False  # a dot product to a scalar (1-D x 1-D matmul) has no output axis to tile
    extents = [extent(sch, loop) for loop in spatial]
    if None in extents:
        return False
    n = extents[-1]
    m_index = max((i for i in range(len(spatial) - 1) if extents[i] > 1), default=None)
    m = extents[m_index] if m_index is not None else 1
    max_acc = params.conv_max_acc if len(reduction) > 1 else params.max_acc
    mr, nr = choose_tile(m, n, params, max_acc)

    no, nv = sch.split(spatial[-1], [None, nr])
    mo, mv = sch.split(spatial[m_index], [None, mr]) if m_index is not None else (None, None)
    batch = [loop for i, loop in enumerate(spatial[:-1]) if i != m_index]
    r_ext = extent(sch, reduction[-1])
    ki = next((f for f in (4, 3, 2) if r_ext and r_ext % f == 0), 1)
    r_outer_last, r_inner = sch.split(reduction[-1], [None, ki])
    r_outer = reduction[:-1] + [r_outer_last]
    tile_m = [mo] if mo is not None else []
    order = [no, *batch, *tile_m, *r_outer, r_inner, *([mv] if mv is not None else []), nv]
    sch.reorder(*order)
    tile_loop = order[len(batch) + len(tile_m)]

    root = sch.get_sblock("root")
    if sch.get_consumers(block):  # fuse the epilogue into one block computed per tile
        output = sch.get(sch.get_output_blocks(root)[0]).name_hint
        pads = {sch.get(b).name_hint for b in sch.get_child_blocks(root) if separate_padding(sch, b, block)}
        inline_all_but(sch, {name, output} | pads)  # padding inlined would test bounds at every MAC
        epilogue = [o for o in sch.get_output_blocks(root) if sch.get(o).name_hint != name]
        for e in epilogue:
            sch.reverse_compute_at(e, tile_loop)
    else:
        epilogue = [sch.cache_write(block, 0, "global")]
        sch.reverse_compute_at(epilogue[0], tile_loop)
    for producer in sch.get_producers(block):
        if not separate_padding(sch, producer, block):  # then a separate, parallel loop
            try_(sch.compute_inline, producer)

    width = lane(nr, params)
    if width and nr > width:
        outer, inner = sch.split(nv, [None, width])
        sch.unroll(outer)
        sch.vectorize(inner)
    else:
        sch.vectorize(nv)
    if mv is not None:
        sch.unroll(mv)
    sch.unroll(r_inner)
    for e in epilogue:
        vectorize_by(sch, sch.get_loops(e)[-1], width)
    parallel_tiles(sch, block, [no, *batch, *tile_m], params)
    # vectorize/parallel must come before decompose_reduction: afterwards the primitives refuse
    init = sch.decompose_reduction(block, r_outer[0])
    try_(sch.vectorize, sch.get_loops(init)[-1])
    for producer in sch.get_producers(block):
        if sch.get_loops(producer):
            try_(par_vec, sch, producer, params)
    return True
