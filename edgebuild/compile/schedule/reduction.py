"""Rules for reductions that are not multiply-accumulates: pooling, mean, softmax, layer norm."""

from __future__ import annotations

from .common import Params, extent, iter_kinds, par_vec, try_, vectorize_inner


def schedule_reduce_vec(sch, block, params: Params) -> bool:
    """Pooling / mean over non-innermost axes (NHWC): [spatial.., c/vec, reductions.., vec], parallel."""
    from tvm import tirx

    kinds, loops = iter_kinds(sch, block), sch.get_loops(block)
    if len(loops) != len(kinds) or kinds[-1] != "R":
        return False
    spatial = [loop for loop, k in zip(loops, kinds) if k == "S"]
    reduction = [loop for loop, k in zip(loops, kinds) if k == "R"]
    b = sch.get(block)
    if not spatial or not b.reads or not b.reads[0].region:  # a full reduction to a scalar
        return False
    # the innermost spatial iterator must index the innermost dimension of the input
    last = b.iter_vars[kinds.index("S") + len(spatial) - 1].var
    index = b.reads[0].region[-1].min
    if not (isinstance(index, tirx.Var) and index.same_as(last)):
        return False
    channels = extent(sch, spatial[-1])
    if not channels or channels % params.vec:
        return False
    c_outer, c_inner = sch.split(spatial[-1], [None, params.vec])
    sch.reorder(*spatial[:-1], c_outer, *reduction, c_inner)
    sch.vectorize(c_inner)
    outer = [loop for loop in spatial[:-1] if extent(sch, loop) != 1] + [c_outer]
    sch.parallel(sch.fuse(*outer) if len(outer) > 1 else outer[0])
    sch.decompose_reduction(block, reduction[0])
    name = b.name_hint
    for other in sch.get_child_blocks(sch.get_sblock("root")):
        if sch.get(other).name_hint != name:
            try_(par_vec, sch, other, params)
    return True


def schedule_rowwise(sch, params: Params) -> bool:
    """Softmax / layer norm: every block computed per row, rows in parallel, inner loops vectorised."""
    root = sch.get_sblock("root")
    blocks, outputs = sch.get_child_blocks(root), sch.get_output_blocks(root)
    if len(outputs) != 1:
        return False
    out = outputs[0]
    reductions = [b for b in blocks if "R" in iter_kinds(sch, b)]
    row_dims = min(iter_kinds(sch, b).count("S") for b in reductions)
    loops = sch.get_loops(out)
    if row_dims == 0 or row_dims > len(loops):
        return False
    row = sch.fuse(*loops[:row_dims]) if row_dims > 1 else loops[0]
    for b in reversed(blocks):
        if not sch.get(b).same_as(sch.get(out)):
            sch.compute_at(b, row)
    for b in sch.get_child_blocks(root):
        if "R" not in iter_kinds(sch, b):
            try_(vectorize_inner, sch, b, params)
    if (extent(sch, row) or 0) >= 2:
        sch.parallel(row)
    return True
