"""ONNX Resize as opsets 10-12 write it (empty roi and scales beside sizes) imports and matches ONNX Runtime."""

import numpy as np
import pytest
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgebuild.compile import relax
from edgebuild.compile.runner import HostModel


def test_resize_to_sizes_with_empty_roi_and_scales_matches_onnxruntime(tmp_path):
    empty = numpy_helper.from_array(np.zeros(0, np.float32), "empty")
    sizes = numpy_helper.from_array(np.array([1, 3, 12, 10], np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "empty", "empty", "sizes"], ["y"], mode="linear",
                            coordinate_transformation_mode="pytorch_half_pixel")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [empty, sizes])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    x = np.random.default_rng(0).standard_normal((1, 3, 6, 5)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(HostModel(tmp_path / "m.so", ["x"])({"x": x})[0], expected, rtol=1e-5, atol=1e-5)


from onnx.reference import ReferenceEvaluator  # noqa: E402

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node, run  # noqa: E402

X = np.random.default_rng(1).standard_normal((1, 2, 6, 7)).astype(np.float32)
F32 = np.float32


def _resize(scales=None, sizes=None, roi=None, x=X, **attrs):
    constants = {"roi": np.asarray(roi if roi is not None else [], F32)}
    if scales is not None:
        constants["scales"] = np.asarray(scales, F32)
    else:
        constants["sizes"] = np.asarray(sizes, np.int64)
    order = ["x", "roi", "scales" if scales is not None else "", "sizes" if sizes is not None else ""]
    return one_node("Resize", {"x": x}, ["y"], constants, order=order, opset=19, **attrs)


# Each is a Resize that TVM's converter computes otherwise than ONNX (see resize.py's docstring).
LOWERED = {
    "linear, scale not whole": dict(scales=[1, 1, 0.6, 0.8], mode="linear"),
    "cubic, scale not whole": dict(scales=[1, 1, 0.8, 1.3], mode="cubic"),
    "cubic A=-0.5 exclude_outside": dict(scales=[1, 1, 0.7, 0.7], mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1),
    "nearest floor asymmetric": dict(scales=[1, 1, 1.7, 0.7], mode="nearest", nearest_mode="floor",
                                     coordinate_transformation_mode="asymmetric"),
    "nearest ceil half_pixel": dict(scales=[1, 1, 0.6, 2.5], mode="nearest", nearest_mode="ceil"),
    "linear antialias": dict(scales=[1, 1, 0.6, 0.5], mode="linear", antialias=1),
    "cubic antialias sizes": dict(sizes=[1, 2, 4, 3], mode="cubic", antialias=1),
    "half_pixel_symmetric": dict(scales=[1, 1, 0.6, 1.6], mode="linear",
                                 coordinate_transformation_mode="half_pixel_symmetric"),
    "sizes on axes (3, 2)": dict(sizes=[9, 5], axes=[3, 2], mode="nearest"),
    "scales on axes (2, 3)": dict(scales=[2.0, 3.0], axes=[2, 3], mode="linear"),
    "not_larger": dict(sizes=[1, 2, 9, 9], mode="nearest", keep_aspect_ratio_policy="not_larger"),
    "not_smaller": dict(sizes=[1, 2, 3, 3], mode="linear", keep_aspect_ratio_policy="not_smaller"),
    "channels resized": dict(scales=[1, 1.5, 1, 1], mode="linear"),
    "tf_crop_and_resize, extrapolation": dict(sizes=[8, 5], axes=[2, 3], roi=[-0.2, 0.1, 1.3, 0.8], mode="linear",
                                              coordinate_transformation_mode="tf_crop_and_resize",
                                              extrapolation_value=7.0),
    "pytorch_half_pixel, 1-pixel output": dict(sizes=[1, 2, 1, 5], mode="linear",
                                               coordinate_transformation_mode="pytorch_half_pixel"),
}


@pytest.mark.parametrize("name", LOWERED)
def test_resizes_tvm_gets_wrong_are_lowered_to_gathers_matching_onnxruntime(name):
    model = assert_lowered_matches(_resize(**LOWERED[name]), {"x": X})
    assert "Resize" not in {n.op_type for n in model.graph.node}


def test_align_corners_to_one_pixel_matches_onnxs_reference():
    """ONNX Runtime reads a 1-pixel align_corners output differently from ONNX's reference; the reference rules."""
    model = _resize(scales=[1, 1, 0.2, 0.6], mode="linear", coordinate_transformation_mode="align_corners")
    want = ReferenceEvaluator(model).run(None, {"x": X})[0]
    np.testing.assert_allclose(run(lowered(model), {"x": X})[0], want, rtol=1e-5, atol=1e-6)


def test_integer_nearest_resize_is_one_gather_per_axis():
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    model = assert_lowered_matches(_resize(sizes=[5, 7], axes=[2, 3], x=x, mode="nearest"), {"x": x})
    assert [n.op_type for n in model.graph.node] == ["Gather", "Gather"]


@pytest.mark.parametrize("attrs", [dict(scales=[1, 1, 2, 2], mode="nearest"), dict(sizes=[1, 2, 12, 21], mode="linear"),
                                   dict(scales=[1, 1, 0.5, 3], mode="cubic")])
def test_resizes_tvm_computes_as_onnx_stay_resizes(attrs):
    """TVM's resize kernels are faster than gathers: what it computes right stays its own."""
    model = _resize(**attrs)
    assert lowered(model) is model


def test_a_lowered_resize_builds_and_matches_onnxruntime(tmp_path):
    model = _resize(scales=[1, 1, 0.6, 0.5], mode="cubic", antialias=1)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    relax.compile_host(relax.import_onnx(path), tmp_path / "m.so")
    got = HostModel(tmp_path / "m.so", ["x"])({"x": X})[0]
    np.testing.assert_allclose(got, run(model, {"x": X})[0], rtol=1e-4, atol=1e-5)
