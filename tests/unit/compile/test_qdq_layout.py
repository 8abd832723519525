"""Per-tensor quantize/dequantize between convs follow them into channels-last (no transposes around
them) and compute exactly what ONNX's QuantizeLinear/DequantizeLinear do."""

from __future__ import annotations

import numpy as np

from edgebuild.compile import layout, relax as erelax

SCALE, ZP = np.float32(0.037), np.int8(-3)


def qdq_between_convs():
    """1x1 identity conv -> quantize -> dequantize -> 1x1 identity conv (NCHW): the output is
    dequantize(quantize(x)) exactly."""
    from tvm import relax

    eye = relax.const(np.eye(8, dtype=np.float32).reshape(8, 8, 1, 1))
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((1, 8, 5, 6), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            c = bb.emit(relax.op.nn.conv2d(x, eye))
            q = bb.emit(relax.op.quantize(c, relax.const(SCALE), relax.const(ZP), axis=1, out_dtype="int8"))
            d = bb.emit(relax.op.dequantize(q, relax.const(SCALE), relax.const(ZP), axis=1, out_dtype="float32"))
            out = bb.emit_output(relax.op.nn.conv2d(d, eye))
        bb.emit_func_output(out)
    return bb.get()


def count_ops(mod, names: set[str]) -> int:
    from tvm import relax

    found = []
    relax.analysis.post_order_visit(
        mod["main"], lambda e: found.append(e) if isinstance(e, relax.Call) and getattr(e.op, "name", "") in names else None)
    return len(found)


def test_quantize_dequantize_between_convs_stay_channels_last():
    mod = layout.to_nhwc()(qdq_between_convs())
    assert count_ops(mod, {"relax.quantize", "relax.dequantize"}) == 0
    assert count_ops(mod, {"relax.permute_dims"}) == 2  # the graph's input and output only


def test_elementwise_quantize_dequantize_are_exact():
    import tvm
    from tvm.runtime.vm import VirtualMachine

    executable, _ = erelax.compile_executable(qdq_between_convs(), erelax.host_target())
    x = np.random.default_rng(0).normal(0, 3, (1, 8, 5, 6)).astype(np.float32)
    x.flat[:4] = SCALE * np.float32([0.5, 1.5, -2.5, 200])  # ties round half to even; a value past int8 saturates
    got = VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()
    q = np.clip(np.round(x / SCALE) + np.float32(ZP), -128, 127).astype(np.int8)
    assert np.array_equal(got, (q.astype(np.int32) - ZP).astype(np.float32) * SCALE)
