"""Transposes and reshapes of constants folded in numpy, once per constant, before TVM's FoldConstant.

The importer transposes a Gemm's weight (transB) at each use, and channels-last transposes each
conv weight. FoldConstant compiles and runs a kernel per transpose: an LSTM exported unrolled (one
Gemm per step) spent ~20 s there on 2 cores, and got one copy of the weight per step. Here equal
transposes of one constant become one constant. Reshapes (conv biases to [1, C, 1, 1]) cost a
kernel build each there too.
"""

from __future__ import annotations

import numpy as np

from .passes import each_function


def fold():
    from tvm import relax
    from tvm.ir.expr import Constant
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class Fold(PyExprMutator):
        def __init__(self, mod):
            super().__init__(mod)
            self.folded = {}  # (constant, axes) -> its transpose

        def visit_call_(self, call):
            call = super().visit_call_(call)
            op = getattr(call.op, "name", "")
            const = call.args[0] if call.args else None
            if isinstance(const, relax.Var):  # a binding folded earlier (reshape, then permute)
                const = self.lookup_binding(const)
            if op not in ("relax.permute_dims", "relax.reshape") or not isinstance(const, Constant):
                return call
            if op == "relax.reshape":
                if not isinstance(call.args[1], relax.ShapeExpr):
                    return call
                key = (const, op, tuple(int(v) for v in call.args[1].values))
            else:
                key = (const, op, None if call.attrs.axes is None else tuple(int(a) for a in call.attrs.axes))
            if key not in self.folded:
                value = const.value.numpy()
                value = value.reshape(key[2]) if op == "relax.reshape" else np.transpose(value, key[2])
                self.folded[key] = relax.const(np.ascontiguousarray(value), str(const.ty.dtype))
            return self.folded[key]

    return each_function("FoldConstantPermutes", Fold)
