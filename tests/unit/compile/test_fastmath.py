"""fastmath rewrites: small constant powers become products, and the result matches numpy."""

from __future__ import annotations

import numpy as np
import pytest


def power_module(exponent):
    from tvm import relax

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((4, 33), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            out = bb.emit_output(relax.op.power(x, relax.const(np.asarray(exponent, np.float32))))
        bb.emit_func_output(out)
    return bb.get()


def ops(mod) -> set[str]:
    import tvm
    from tvm import relax

    found = set()
    relax.analysis.post_order_visit(mod["main"].body, lambda e: found.add(e.op.name) if isinstance(e, relax.Call)
                                    and isinstance(e.op, tvm.ir.Op) else None)
    return found


@pytest.mark.parametrize("exponent,power_left", [(2.0, False), (3.0, False), (2.5, True), ([[3.0]], False),
                                                  ([[[2.0]]], True)])
def test_small_constant_powers_become_products(exponent, power_left):
    from edgebuild.compile import fastmath

    rewritten = fastmath.fast_math()(power_module(exponent))
    assert ("relax.power" in ops(rewritten)) == power_left
    assert ("relax.multiply" in ops(rewritten)) != power_left


def test_rewritten_powers_match_numpy_here():
    import tvm
    from tvm.runtime.vm import VirtualMachine

    from edgebuild.compile import relax as erelax

    x = np.random.default_rng(0).standard_normal((4, 33)).astype(np.float32) * 3
    for exponent in (2.0, 3.0):
        executable, _ = erelax.compile_executable(power_module(exponent), erelax.host_target())
        got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()
        np.testing.assert_allclose(got, np.power(x, np.float32(exponent)), rtol=2e-7)
