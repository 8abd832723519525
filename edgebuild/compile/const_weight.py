"""Shared by the Relax rewrites that specialise matmuls by their constant weight (sparse.py, int8_matmul.py)."""

from __future__ import annotations


def constant_weight(mutator, expr):
    """The numpy value of a constant matmul weight, seen through a transpose (how Gemm with transB imports)."""
    from tvm import relax
    from tvm.ir.expr import Constant

    bound = mutator.lookup_binding(expr) if isinstance(expr, relax.Var) else None
    if isinstance(expr, Constant):
        return expr.value.numpy()
    if isinstance(bound, relax.Call) and getattr(bound.op, "name", "") == "relax.permute_dims" and \
            isinstance(bound.args[0], Constant) and len(bound.args[0].ty.shape) == 2:
        return bound.args[0].value.numpy().T
    return None


def rewrite_functions(mod, mutator):
    """`mod` with every Relax function passed through `mutator` (a PyExprMutator built on `mod`)."""
    from tvm import relax

    for gv, func in mod.functions.items():
        if isinstance(func, relax.Function):
            mutator.builder_.update_func(gv, mutator.visit_expr(func))
    return mutator.builder_.get()
