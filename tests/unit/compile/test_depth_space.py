"""SpaceToDepth in CRD mode as Reshape/Transpose/Reshape (depth_space.py) gives ONNX Runtime's channel order."""

import numpy as np

from tests.unit.compile.onnx_nodes import assert_lowered_matches, lowered, one_node

X = np.random.default_rng(4).standard_normal((2, 3, 6, 4)).astype(np.float32)


def test_crd_space_to_depth_matches_onnxruntime():
    assert_lowered_matches(one_node("SpaceToDepth", {"x": X}, ["y"], opset=28, blocksize=2, mode="CRD"), {"x": X})


def test_dcr_space_to_depth_stays_itself():
    model = one_node("SpaceToDepth", {"x": X}, ["y"], opset=28, blocksize=2)
    assert lowered(model) is model
