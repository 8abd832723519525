"""The int8 rule: a packed int8 dot block (int8_matmul.py) becomes a register-blocked micro-kernel whose
innermost step is the target's dot-product instruction (tensorized, int8_intrin.py).

Loop order [no, batch.., mo, reductions.. (matmuls: k / group; convs: kh, kw, ci / group), mr (unrolled),
nv (unrolled), lanes x group (one instruction)]: a panel of nv * lanes weight columns stays in L1 while every row tile passes; mr x nv int32
accumulators stay in registers over the whole reduction. The operand conversion (int16 widening or
the 128 shift) is one parallel vectorised pass before the tile loops; the requantize / activation
epilogue is computed per tile.
"""

from __future__ import annotations

from ..int8_conv import DW_ATTR
from ..int8_intrin import BLOCK_ATTR, SCHEMES, register
from .common import (STACK_BYTES, Params, extent, inline_all_but, iter_kinds, par_vec, parallel_tiles, try_,
                     vectorize_by)


def int8_block(sch, attr: str = BLOCK_ATTR):
    """The packed int8 dot block of the function, if it has one."""
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        if attr in sch.get(block).annotations:
            return block
    return None


def dw_block(sch):
    """The int8 depthwise conv block (int8_conv.py), if the function has one."""
    return int8_block(sch, DW_ATTR)


def choose_tile(m: int, columns: int, registers: int, scratch: int = 1, row_ops: int = 1,
                lanes: int = 1) -> tuple[int, int]:
    """(mr, nv): mr rows x nv vectors of `lanes` int32 accumulators, leaving registers for nv weight vectors
    and the micro-kernel's `scratch` (the broadcast and its temporaries), under STACK_BYTES; the most
    multiplies per instruction spent outside them in one step (mr * row_ops per row, one weight load per
    vector)."""
    best = None
    for nv in range(1, 9):
        if columns % nv:
            continue
        for mr in range(1, 17):
            if m % mr or mr * nv + nv + scratch > registers or mr * nv * lanes * 4 >= STACK_BYTES:
                continue
            score = mr * nv / (mr * row_ops + nv)
            if best is None or score > best[0] + 1e-9:
                best = (score, mr, nv)
    return (1, 1) if best is None else (best[1], best[2])


def schedule_int8(sch, block, params: Params) -> bool:
    scheme = register(SCHEMES[str(sch.get(block).annotations[BLOCK_ATTR])])
    name = sch.get(block).name_hint
    root = sch.get_sblock("root")
    operand = [p for p in sch.get_producers(block)]
    keep = {name, *(sch.get(p).name_hint for p in operand)}
    outputs = {sch.get(o).name_hint for o in sch.get_output_blocks(root)}
    inline_all_but(sch, keep | outputs)

    loops, kinds = sch.get_loops(block), iter_kinds(sch, block)
    s = kinds.count("S")
    if len(loops) != len(kinds) or kinds != ["S"] * s + ["R"] * (len(kinds) - s) or s == len(kinds):
        return False
    spatial, reduction = loops[:s], loops[s:]  # convs: (kh, kw, ci), matmuls: (k,)
    extents = [extent(sch, loop) for loop in spatial]
    n = extents[-1]
    m_index = max((i for i in range(len(spatial) - 1) if extents[i] > 1), default=None)
    m = extents[m_index] if m_index is not None else 1
    mr, nv = choose_tile(m, n // scheme.lanes, scheme.vectors, scheme.scratch, scheme.row_ops, scheme.lanes)

    no, nvl, lanes = sch.split(spatial[-1], [None, nv, scheme.lanes])
    mo, mv = sch.split(spatial[m_index], [None, mr]) if m_index is not None else (None, None)
    ko, kg = sch.split(reduction[-1], [None, scheme.group])
    r_outer = [*reduction[:-1], ko]
    batch = [loop for i, loop in enumerate(spatial[:-1]) if i != m_index]
    tile_m = [mo] if mo is not None else []
    sch.reorder(no, *batch, *tile_m, *r_outer, *([mv] if mv is not None else []), nvl, lanes, kg)
    tile_loop = (tile_m or batch or [no])[-1]

    if sch.get_consumers(block):
        epilogue = [o for o in sch.get_output_blocks(root) if sch.get(o).name_hint != name]
    else:
        epilogue = [sch.cache_write(block, 0, "global")]
    for e in epilogue:
        sch.reverse_compute_at(e, tile_loop)
        try_(vectorize_by, sch, sch.get_loops(e)[-1], scheme.lanes)
    parallel_tiles(sch, block, [no, *batch, *tile_m], params)
    if mv is not None:
        sch.unroll(mv)
    sch.unroll(nvl)
    init = sch.decompose_reduction(block, r_outer[0])
    try_(sch.vectorize, sch.get_loops(init)[-1])
    sch.tensorize(lanes, scheme.intrin)
    for producer in operand:
        par_vec(sch, producer, params)
    return True
