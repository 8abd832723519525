"""Failures name what failed; who scheduled each kernel is recorded; bugs in rules are not swallowed."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import kernels, pipeline, relax, schedule
from edgebuild.compile.runner import HostModel
from edgebuild.errors import CompileError


def conv_relu(tmp_path, op="Conv", **attrs):
    shape = (4, 3, 3, 3) if op == "Conv" else (3, 4, 3, 3)
    w = numpy_helper.from_array(np.ones(shape, np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node(op, ["x", "w"], ["c"], name="the_conv", **attrs), helper.make_node("Relu", ["c"], ["y"], name="act")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_importer_records_the_onnx_nodes_behind_each_kernel(tmp_path):
    mod = relax.import_onnx(conv_relu(tmp_path))
    nodes = kernels.nodes_of(mod)
    assert nodes["conv2d"] == ["Conv 'the_conv'"] and nodes["relu"] == ["Relu 'act'"]
    assert kernels.nodes_for("fused_conv2d_relu", nodes) == ["Conv 'the_conv'", "Relu 'act'"]
    assert kernels.nodes_for("fused_conv2d_transpose_add", {"conv2d": ["a"], "conv2d_transpose": ["b"]}) == ["b"]


def test_manifest_table_records_scheduler_and_share_per_kernel(tmp_path):
    scheduled = relax.compile_host(relax.import_onnx(conv_relu(tmp_path)), tmp_path / "m.so")
    assert scheduled["fallback"] is None and "gemm" in scheduled["kernels"].values()
    shares = HostModel(tmp_path / "m.so", ["x"]).profile({"x": np.ones((1, 3, 8, 8), np.float32)})
    table = kernels.table(scheduled["kernels"], shares, scheduled["fallback"])
    conv = next(r for r in table["per_kernel"] if "conv2d" in r["name"])
    assert conv["scheduler"] == "gemm" and 0 < conv["share"] < 1
    assert sum(table["counts"].values()) == len(scheduled["kernels"]) and table["unscheduled_share"] == 0


def test_a_bug_in_a_schedule_rule_fails_instead_of_being_refused(tmp_path, monkeypatch):
    def broken(*_args):
        raise KeyError("a bug in the rule")

    monkeypatch.setattr(schedule, "schedule_gemm", broken)
    fused = pipeline.fuse(relax.import_onnx(conv_relu(tmp_path)), relax.host_target())
    with pytest.raises(KeyError, match="a bug in the rule"):
        schedule.schedule_module(fused, relax.host_target())


def test_a_kernel_tvm_cannot_lower_is_named_with_its_nodes_and_tvm_message(tmp_path, monkeypatch):
    # conv2d_transpose in NHWC has no legalization in TVM 0.27: the error must say so, not "Metadata omitted".
    from edgebuild.compile import layout

    from tvm import relax as rx

    mod = relax.import_onnx(conv_relu(tmp_path, op="ConvTranspose", dilations=[2, 2]))  # dilated: stays conv2d_transpose
    to_nhwc = rx.transform.ConvertLayout({"relax.nn.conv2d_transpose": ["NHWC", "IOHW"]})
    monkeypatch.setattr(layout, "to_nhwc", lambda: to_nhwc)
    with pytest.warns(UserWarning, match="schedule rules failed"), pytest.raises(CompileError) as err:
        relax.compile_host(mod, tmp_path / "m.so")
    text = str(err.value)
    assert "relax.nn.conv2d_transpose" in text and "ConvTranspose 'the_conv'" in text
    assert "Metadata omitted" not in text


def test_tvm_message_skips_ir_printouts():
    class Fake(RuntimeError):
        pass

    exc = Fake("Traceback...\n  File x\nInternalError: Check failed: (a == b) is false: bad layout\n"
               "# from tvm.script import ir as I\n@I.ir_module\nclass Module:\n"
               "# Metadata omitted. Use show_meta=True in script() method to show it.")
    assert kernels.message(exc) == "InternalError: Check failed: (a == b) is false: bad layout"


def test_schedules_tvm_cannot_build_fall_back_to_unscheduled_with_a_warning(tmp_path, monkeypatch):
    import tvm

    finish, calls = relax._finish, []

    def first_build_fails(lowered, target, *rest):
        calls.append(1)
        if len(calls) == 1:
            tvm.target.Target({"kind": "llvm", "no-such-option": 1})  # a real TVM error
        return finish(lowered, target, *rest)

    monkeypatch.setattr(relax, "_finish", first_build_fails)
    with pytest.warns(UserWarning, match="schedule rules failed to lower .*no-such-option"):
        scheduled = relax.compile_host(relax.import_onnx(conv_relu(tmp_path)), tmp_path / "m.so")
    assert "no-such-option" in scheduled["fallback"] and set(scheduled["kernels"].values()) == {"none"}
    table = kernels.table(scheduled["kernels"], None, scheduled["fallback"])
    assert table["fallback"] == scheduled["fallback"] and table["counts"] == {"none": len(scheduled["kernels"])}


def test_the_kernel_tvm_cannot_build_is_found_among_good_ones():
    import tvm
    from tvm.script import tirx as T

    @T.prim_func(private=True)
    def nested(A: T.Buffer((4, 4), "float32"), B: T.Buffer((4, 4), "float32")):
        for i in T.parallel(4):
            for j in T.parallel(4):
                B[i, j] = A[i, j]

    @T.prim_func(private=True)
    def good(A: T.Buffer((4, 4), "float32"), B: T.Buffer((4, 4), "float32")):
        for i, j in T.grid(4, 4):
            B[i, j] = A[i, j]

    found = kernels.failing_kernel(tvm.IRModule({"good": good, "nested_parallel": nested}), relax.host_target())
    assert found[0] == "nested_parallel" and "Nested parallel loop" in found[1]
