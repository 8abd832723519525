import numpy as np
import onnx
import onnx.numpy_helper
import pytest
from onnx import TensorProto, helper

from edgebuild.models import onnx_file


def tiny(path, batch="N"):
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], np.ones(8, np.float32))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 2])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_inputs_exclude_initializers_and_keep_dynamic_names(tmp_path):
    model = onnx_file.load(tiny(tmp_path / "m.onnx"))
    (spec,) = model.inputs()
    assert (spec.name, spec.shape, spec.dtype) == ("x", ("N", 4), "float32")


def test_name_is_stem_plus_hash_of_bytes(tmp_path):
    a = onnx_file.load(tiny(tmp_path / "m.onnx"))
    (tmp_path / "b").mkdir()
    b = onnx_file.load(tiny(tmp_path / "b" / "m.onnx", batch="B"))
    assert a.name.startswith("m-") and len(a.name) == 10 and a.name != b.name


def test_reference_inputs_are_deterministic(tmp_path):
    model = onnx_file.load(tiny(tmp_path / "m.onnx"))
    (spec,) = model.inputs()
    from dataclasses import replace
    specs = [replace(spec, shape=(2, 4))]
    first, second = model.reference_inputs(specs), model.reference_inputs(specs)
    assert first["x"].shape == (2, 4) and np.array_equal(first["x"], second["x"])


def test_changed_external_weights_change_the_fingerprint(tmp_path):
    model = onnx.load(str(tiny(tmp_path / "src.onnx")))
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.ones((4, 2), np.float32), "w"))  # raw data
    onnx.save(model, str(tmp_path / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="m.weights", size_threshold=0)
    before = onnx_file.load(tmp_path / "m.onnx").fingerprint()
    weights = tmp_path / "m.weights"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert onnx_file.load(tmp_path / "m.onnx").fingerprint() != before


def test_an_onnx_file_past_protobufs_limit_is_refused_at_once(tmp_path):
    import time

    from edgebuild.errors import ModelError

    huge = tmp_path / "huge.onnx"
    with open(huge, "wb") as f:
        f.truncate(2**31 + 10)  # sparse: no disk used
    began = time.monotonic()
    with pytest.raises(ModelError, match="2 GiB"):
        onnx_file.load(huge)
    assert time.monotonic() - began < 2


def test_zero_sized_dims_are_static_and_a_graph_may_have_no_inputs(tmp_path):
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 0, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 0, 4])])
    path = tmp_path / "z.onnx"
    onnx.save(helper.make_model(graph), str(path))
    (spec,) = onnx_file.load(path).inputs()
    assert spec.shape == (2, 0, 4) and spec.is_static
    const = helper.make_graph([helper.make_node("Constant", [], ["y"], value_float=1.0)], "c", [],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    onnx.save(helper.make_model(const), str(path))
    assert onnx_file.load(path).inputs() == []
