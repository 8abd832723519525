"""Lifting constants: equal constants (constant folding's per-use copies) become one parameter."""

import numpy as np

from edgebuild.compile import lift


def _module(*constants):
    """main(x) returning (x + the constants in turn, each constant): every constant used twice."""
    from tvm import relax

    x = relax.Var("x", relax.TensorType((2, 3), "float32"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            y = x
            for c in constants:
                if c.dtype == np.float32 and c.shape == (2, 3):
                    y = bb.emit(relax.op.add(y, relax.const(c)))
            out = bb.emit_output(relax.Tuple([y, *(relax.const(c) for c in constants)]))
        bb.emit_func_output(out)
    return bb.get()


def test_equal_constants_are_lifted_once_and_different_ones_apart():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    other = w + 1
    mod, arrays = lift.lift_constants(_module(w.copy(), w.copy(), other, w.copy()))
    assert len(arrays) == 2
    assert np.array_equal(arrays[0], w) and np.array_equal(arrays[1], other)
    assert len(mod["main"].params) == 1 + 2


def test_same_bytes_of_another_dtype_or_shape_stay_apart():
    w = np.zeros((2, 3), np.float32)
    _, arrays = lift.lift_constants(_module(w, w.view(np.int32), w.reshape(1, 2, 3)))
    assert len(arrays) == 3
