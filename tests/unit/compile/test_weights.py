import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import relax, runner, weights


def mapped_ranges(path):
    ranges = []
    for line in open("/proc/self/maps"):
        fields = line.split()
        if len(fields) >= 6 and fields[5] == str(path):
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((lo, hi))
    return ranges


def test_round_trip_views_the_mapping_without_copies(tmp_path):
    arrays = [np.arange(12, dtype=np.float32).reshape(3, 4), np.array([-3, 7], np.int8), np.array(2.5, np.float16),
              np.array([True, False]), np.zeros((0, 5), np.int64), np.arange(6, dtype=np.int32).reshape(2, 3).T]
    path = tmp_path / "model.weights"
    weights.write(path, arrays)
    tensors = weights.load(path)
    assert [t.numpy().dtype for t in tensors] == [a.dtype for a in arrays]
    assert all(np.array_equal(t.numpy(), a) for t, a in zip(tensors, arrays))
    ranges = mapped_ranges(path)
    for t, a in zip(tensors, arrays):
        if a.size:  # every tensor points into the file's mapping, 64-byte aligned: nothing was copied
            assert t.data_ptr() % 64 == 0 and any(lo <= t.data_ptr() < hi for lo, hi in ranges)


def test_a_file_that_is_not_a_weights_file_is_named(tmp_path):
    (tmp_path / "model.weights").write_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(ValueError, match=r"model.weights: not an edgebuild weights file"):
        weights.load(tmp_path / "model.weights")


def test_beside():
    assert weights.beside("/b/model.so") == "/b/model.weights"


def test_constants_move_out_of_the_library(tmp_path):
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=(256, 512)).astype(np.float32), rng.normal(size=(512,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 512])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    assert (tmp_path / "m.so").stat().st_size < w.nbytes / 2  # 512 KiB of weights are not in it
    lifted, _ = weights.read_header(weights.beside(tmp_path / "m.so"))
    assert sum(int(np.prod(e["shape"])) for e in lifted) >= w.size + b.size
    x = rng.normal(size=(4, 256)).astype(np.float32)
    (y,) = runner.HostModel(tmp_path / "m.so", ["x"])({"x": x})
    assert np.allclose(y, x @ w + b, atol=1e-3)
