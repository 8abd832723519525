"""Transposes and reshapes of constants fold in numpy, one constant per distinct fold."""

import numpy as np

from edgebuild.compile import const_permute


def _module(w, b):
    """main(x) = x @ w.T + x @ w.T + reshape(b) (transposed twice from one constant, as unrolled Gemms are)."""
    from tvm import relax

    x = relax.Var("x", relax.TensorType((2, 3), "float32"))
    bb = relax.BlockBuilder()
    wc = relax.const(w)
    with bb.function("main", [x]):
        with bb.dataflow():
            first = bb.emit(relax.op.matmul(x, bb.emit(relax.op.permute_dims(wc, [1, 0]))))
            second = bb.emit(relax.op.matmul(x, bb.emit(relax.op.permute_dims(wc, [1, 0]))))
            bias = bb.emit(relax.op.permute_dims(bb.emit(relax.op.reshape(relax.const(b), (4, 1))), [1, 0]))
            out = bb.emit_output(relax.op.add(relax.op.add(first, second), bias))
        bb.emit_func_output(out)
    return bb.get()


def _calls_and_constants(func):
    from tvm import relax
    from tvm.ir.expr import Constant

    ops, constants = [], []

    def visit(e):
        if isinstance(e, relax.Call):
            ops.append(e.op.name)
        elif isinstance(e, Constant) and hasattr(e.ty, "shape"):  # tensors, not IntImm
            constants.append(e)

    relax.analysis.post_order_visit(func, visit)
    return ops, constants


def test_transposes_and_reshapes_of_constants_fold_once():
    import tvm
    from tvm import relax

    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)
    mod = _module(w, b)
    folded = const_permute.fold()(mod)
    ops, constants = _calls_and_constants(folded["main"])
    assert "relax.permute_dims" not in ops and "relax.reshape" not in ops
    transposed = []
    for c in constants:
        if tuple(c.ty.shape) == (3, 4) and not any(c.same_as(d) for d in transposed):
            transposed.append(c)
    assert len(transposed) == 1  # w.T once, for both matmuls
    x = rng.normal(size=(2, 3)).astype(np.float32)
    for m in (mod, folded):
        out = relax.VirtualMachine(tvm.compile(m, "llvm"), tvm.cpu())["main"](tvm.runtime.tensor(x))
        np.testing.assert_allclose(out.numpy(), 2 * x @ w.T + b[None, :], rtol=1e-5)
