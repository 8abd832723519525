"""A CSR kernel for matmuls whose constant weight is mostly zeros (unstructured pruning's artifact).

`rewrite(mod, min_sparsity)` replaces every `matmul(x, W)` with a constant W (K x N) of at least
`min_sparsity` zeros by: x as (K, M) -> a CSR kernel over W's columns (output rows, in parallel; the
M axis vectorised) -> (M, N). Only the non-zeros are stored in model.so and multiplied.

Measured on this host (Zen 5, 2 shared cores, fp32, a MiniLM FFN layer: 1x128x384 @ 384x1536 plus
bias; `scripts/sparse-crossover`), the dense graph (edgebuild's register-blocked kernel, ~0.6 ms)
against the CSR graph (kernel plus the two transposes): 50% zeros 0.57x, 70% 0.87x, 80% 1.19x,
90% 1.67x, 95% 2.07x, outputs bit-identical (the same products summed in the same order). The
crossover is ~75% zeros; below it dense wins, so the threshold is a recipe field
(`prune.sparse-kernel-above`) and off by default.
"""

from __future__ import annotations

import numpy as np

from .const_weight import constant_weight, rewrite_functions

SCHEDULED = "tirx.is_scheduled"  # the schedule rules leave such kernels as written


def csr_kernel(k: int, m: int, n: int, nnz: int):
    """yT (N, M) = W^T x^T for W given as CSR rows of W^T (data, indices, indptr)."""
    from tvm.script import tirx as T

    @T.prim_func
    def csr_matmul(xT: T.Buffer((k, m), "float32"), data: T.Buffer((nnz,), "float32"),
                   indices: T.Buffer((nnz,), "int32"), indptr: T.Buffer((n + 1,), "int32"),
                   yT: T.Buffer((n, m), "float32")):
        T.func_attr({"tirx.noalias": True, SCHEDULED: True})
        for row in T.parallel(n):
            acc = T.alloc_buffer((m,), "float32", scope="local")
            for i in T.vectorized(m):
                acc[i] = T.float32(0)
            for j in range(indptr[row + 1] - indptr[row]):
                for i in T.vectorized(m):
                    acc[i] = acc[i] + data[indptr[row] + j] * xT[indices[indptr[row] + j], i]
            for i in T.vectorized(m):
                yT[row, i] = acc[i]

    return csr_matmul


def to_csr(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of w.T (one row per output column of the matmul): data, indices, indptr."""
    rows = np.ascontiguousarray(w.T)
    mask = rows != 0
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype("int32")
    return rows[mask].astype("float32"), np.nonzero(mask)[1].astype("int32"), indptr


def rewrite(mod, min_sparsity: float):
    """`mod` with every float32 matmul by a constant at least `min_sparsity` zero run by the CSR kernel."""
    from tvm import relax

    @relax.expr_functor.mutator
    class Sparse(relax.PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            w = constant_weight(self, call.args[1]) if getattr(call.op, "name", "") == "relax.matmul" else None
            x = call.args[0].ty
            if w is None or w.ndim != 2 or w.dtype != np.float32 or str(x.dtype) != "float32" or np.mean(w == 0) < min_sparsity \
                    or not np.any(w):
                return call
            shape = [int(d) for d in x.shape]
            (k, n), m = w.shape, int(np.prod(shape[:-1]))
            data, indices, indptr = to_csr(w)
            gv = self.builder_.add_func(csr_kernel(k, m, n, len(data)), "csr_matmul")
            xt = self.builder_.emit(relax.op.permute_dims(relax.op.reshape(call.args[0], (m, k)), [1, 0]))
            yt = self.builder_.emit(relax.call_tir(gv, [xt, *(relax.const(a) for a in (data, indices, indptr))],
                                                   relax.TensorType((n, m), "float32")))
            return relax.op.reshape(relax.op.permute_dims(yt, [1, 0]), (*shape[:-1], n))

    return rewrite_functions(mod, Sparse(mod))
