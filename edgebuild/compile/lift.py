"""Lift `main`'s constants into trailing parameters, so that weights live beside model.so.

Runs on the scheduled module (after constant folding and layout rewrites), so the lifted tensors
are exactly what the kernels read. Only dtypes that numpy maps to DLPack are lifted (the loader
views the weights file through numpy); any other constant stays embedded in the library.
Equal constants become one parameter: constant folding gives each use of a weight its own copy
(an LSTM exported unrolled transposes its weights once per step: a CRNN's 19 MB became 274 MB).
"""

from __future__ import annotations

import hashlib

import numpy as np

LIFTABLE_KINDS = "biufc"  # numpy dtype kinds DLPack carries (bool, ints, floats, complex)


def lift_constants(mod) -> tuple[object, list[np.ndarray]]:
    """(module whose main takes its constants as parameters after the inputs, those constants)."""
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    lifted: dict[object, tuple[object, np.ndarray]] = {}
    by_value: dict[tuple, object] = {}  # (dtype, shape, digest) -> the first constant with that value

    @mutator
    class Lift(PyExprMutator):
        def visit_generic_const_(self, const):
            if const in lifted:
                return lifted[const][0]
            value = const.value.numpy()
            if value.dtype.kind not in LIFTABLE_KINDS or value.dtype.byteorder == ">":
                return const
            key = (value.dtype.str, value.shape, hashlib.sha256(np.ascontiguousarray(value).data).digest())
            if key in by_value:
                return lifted[by_value[key]][0]
            by_value[key] = const
            lifted[const] = (relax.Var(f"weight{len(lifted)}", const.ty), value)
            return lifted[const][0]

    func = mod["main"]
    body = Lift(mod).visit_expr(func.body)
    params = [var for var, _ in lifted.values()]
    # num_input (set by the ONNX importer) already marks what follows the inputs as parameters.
    mod = mod.clone()  # the caller keeps its module
    mod["main"] = relax.Function([*func.params, *params], body, func.ret_ty, func.is_pure, func.attrs, func.span)
    return mod, [value for _, value in lifted.values()]
