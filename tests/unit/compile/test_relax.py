import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edgebuild import targets
from edgebuild.compile import relax
from edgebuild.errors import CompileError


def save(tmp_path, nodes, opsets=(("", 17),)):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets]), str(path))
    return path


def test_unsupported_operator_is_named_with_its_node(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["r"], name="ok"),
                           helper.make_node("Gelu", ["r"], ["y"], name="act", domain="com.example")],
                opsets=(("", 17), ("com.example", 1)))
    with pytest.raises(CompileError, match=r"does not support: com.example::Gelu \(node 'act'\)"):
        relax.import_onnx(path)


def test_every_unsupported_operator_is_listed_at_once_with_its_nodes(tmp_path):
    path = save(tmp_path, [helper.make_node("LSTMish", ["x"], ["a"], name="l1", domain="com.example"),
                           helper.make_node("Relu", ["a"], ["b"], name="ok"),
                           helper.make_node("LSTMish", ["b"], ["c"], name="l2", domain="com.example"),
                           helper.make_node("Foo", ["c"], ["y"], name="f", domain="com.example")],
                opsets=(("", 17), ("com.example", 1)))
    with pytest.raises(CompileError, match=r"com.example::LSTMish \(nodes 'l1', 'l2'\); com.example::Foo \(node 'f'\)"):
        relax.import_onnx(path)


def test_if_is_not_refused_the_importer_handles_it_itself(tmp_path):
    branch = lambda name, op: helper.make_graph(  # noqa: E731
        [helper.make_node(op, ["x"], [f"{name}_y"])], name, [],
        [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1, 4])])
    cond = helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c", TensorProto.BOOL, [], [True]))
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch("then", "Relu"), else_branch=branch("else", "Neg"))
    mod = relax.import_onnx(save(tmp_path, [cond, node]))
    assert "main" in [gv.name_hint for gv in mod.get_global_vars()]


def test_supported_graph_imports_and_runs_on_host(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])])
    mod = relax.import_onnx(path)
    relax.compile_host(mod, tmp_path / "m.so")
    from edgebuild.compile.runner import HostModel

    x = np.array([[-1, 2, -3, 4]], np.float32)
    (y,) = HostModel(tmp_path / "m.so", ["x"])({"x": x})
    assert np.array_equal(y, np.maximum(x, 0))


def test_invalid_tvm_target_option_names_the_file(project):
    rpi4 = targets.load(project, "rpi4")
    from dataclasses import replace

    broken = replace(rpi4, tvm={**rpi4.tvm, "mcpus": "cortex-a72"})
    with pytest.raises(CompileError, match=r"targets/rpi4.toml: \[tvm\] is not a valid TVM target:.*mcpus"):
        relax.tvm_target(broken)


def test_native_mcpu_is_resolved(project):
    assert relax.tvm_target(targets.load(project, "host")).attrs["mcpu"] not in ("native", "")


def test_scalar_graph_inputs_reach_the_vm_as_scalars(tmp_path):
    # np.ascontiguousarray would make the 0-d bound 1-d: "expect Tensor with ndim 0 but get 1"
    graph = helper.make_graph([helper.make_node("Clip", ["x", "lo"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
                               helper.make_tensor_value_info("lo", TensorProto.FLOAT, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "c.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "c.so")
    from edgebuild.compile.runner import HostModel

    x = np.array([[-1, 2, -3, 4]], np.float32)
    (y,) = HostModel(tmp_path / "c.so", ["x", "lo"])({"x": x, "lo": np.array(0.5, np.float32)})
    assert np.array_equal(y, np.maximum(x, 0.5))


def test_dot_product_and_full_reductions_build_and_match(tmp_path):
    # rules that assumed an output axis (gemm tiling, reduce_vec) raised IndexError/ValueError on these
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["d"]),
                               helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0)], "g",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("d", TensorProto.FLOAT, []),
                               helper.make_tensor_value_info("s", TensorProto.FLOAT, [])])
    path = tmp_path / "d.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "d.so")
    from edgebuild.compile.runner import HostModel

    a, b = np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32)
    d, s = HostModel(tmp_path / "d.so", ["a", "b"])({"a": a, "b": b})
    assert d.shape == () and float(d) == 32.0 and float(s) == 6.0
