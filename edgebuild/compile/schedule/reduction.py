"""Rules for reductions that are not multiply-accumulates: pooling, mean, softmax, layer norm, and
reductions of a whole tensor to one value (the min/max of run-time activation quantization)."""

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
    partials = [p for p in (try_(_lane_partials, sch, b, params) for b in reductions) if isinstance(p, str)]
    blocks = sch.get_child_blocks(root)
    row = sch.fuse(*sch.get_loops(out)[:row_dims]) if row_dims > 1 else sch.get_loops(out)[0]
    for b in reversed(blocks):
        if not sch.get(b).same_as(sch.get(out)):
            sch.compute_at(b, row)
    for b in sch.get_child_blocks(root):
        if "R" not in iter_kinds(sch, b):
            try_(vectorize_inner, sch, b, params)
    for name in partials:  # [lanes, k] -> [k, lanes]: the lanes innermost
        sch.reorder(*sch.get_loops(sch.get_sblock(name))[-2:][::-1])
    if (extent(sch, row) or 0) >= 2:
        sch.parallel(row)  # before the partials lose their init (TVM parallelises reduction blocks only)
    for name in partials:  # TVM does not vectorise a spatial loop inside a reduction; unrolled, LLVM does
        partial = sch.get_sblock(name)
        sch.decompose_reduction(partial, sch.get_loops(partial)[-2])
        sch.unroll(sch.get_loops(partial)[-1])
    return True


def _lane_partials(sch, block, params: Params) -> str | None:
    """The name of a new block computing a row reduction over its innermost loop as `vec` lane-wise
    partial results (which `block` then reduces); the serial loop it replaces left every exp of a
    softmax row unvectorised."""
    k = sch.get_loops(block)[-1]
    size = extent(sch, k)
    if not size or size % params.vec or size == params.vec:
        return None
    _, lanes = sch.split(k, [None, params.vec])
    return sch.get(sch.rfactor(lanes, 0)).name_hint


def schedule_full_reduce(sch, block, params: Params) -> bool:
    """A whole tensor reduced to one value: `chunks` parallel partial results of `vec` lanes each
    (rfactor), then a short serial reduction of those. Unscheduled, a 128x1536 max ran serially in
    67 us; this way 7 us (2 threads)."""
    loops, kinds = sch.get_loops(block), iter_kinds(sch, block)
    if len(loops) != len(kinds) or any(k == "S" and extent(sch, loop) != 1 for loop, k in zip(loops, kinds)):
        return False
    reduction = [loop for loop, k in zip(loops, kinds) if k == "R"]
    size = 1
    for loop in reduction:
        size *= extent(sch, loop) or 0
    chunks = next((c for c in (16, 8, 4, 2) if size % (c * params.vec) == 0), None)
    if chunks is None or size < params.par_min_elems:
        return False
    k = sch.fuse(*reduction) if len(reduction) > 1 else reduction[0]
    kp, ko, kv = sch.split(k, [chunks, None, params.vec])
    sch.reorder(kp, kv, ko)
    partial = sch.rfactor(sch.fuse(kp, kv), 0)  # [chunks * vec] partial results
    kpv, ko = sch.get_loops(partial)[-2:]
    kp, kv = sch.split(kpv, [chunks, params.vec])
    sch.reorder(kp, ko, kv)
    sch.parallel(kp)
    sch.decompose_reduction(partial, ko)
    # TVM refuses to vectorise a spatial loop inside a reduction loop; unrolled, LLVM vectorises it.
    sch.unroll(sch.get_loops(partial)[-1])
    name = sch.get(block).name_hint
    for other in sch.get_child_blocks(sch.get_sblock("root")):
        if sch.get(other).name_hint not in (name, sch.get(partial).name_hint):
            try_(par_vec, sch, other, params)
    return True
