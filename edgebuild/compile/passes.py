"""Relax rewrites as module passes."""

from __future__ import annotations


def each_function(name: str, mutator_class):
    """A module pass applying `mutator_class` (a PyExprMutator) to every Relax function."""
    import tvm
    from tvm import relax

    @tvm.transform.module_pass(opt_level=0, name=name)
    def run(mod, _ctx):
        mutate = mutator_class(mod)
        for gv, func in mod.functions_items():
            if isinstance(func, relax.Function):
                mod[gv] = mutate.visit_expr(func)
        return relax.transform.Normalize()(mod)

    return run
