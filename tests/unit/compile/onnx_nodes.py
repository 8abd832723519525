"""One-node ONNX graphs, ONNX Runtime's outputs on them, and edgebuild's lowerings of them before import:
the lowering tests compare the lowered graph with the original, both run by ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from edgebuild.compile import onnx_graph, relax


def one_node(op: str, inputs: dict[str, np.ndarray], outputs: list[str], constants: dict[str, np.ndarray] | None = None,
             order: list[str] | None = None, opset: int = 18, **attrs) -> onnx.ModelProto:
    """`op` on graph inputs `inputs` (name -> example array) and initializers `constants`, taken in `order`
    ("" for an absent input; default: the inputs, then the constants)."""
    constants = constants or {}
    node = helper.make_node(op, order if order is not None else [*inputs, *constants], outputs, name="node", **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                      for k, v in inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outputs if o],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, feeds)


def lowered(model: onnx.ModelProto) -> onnx.ModelProto:
    return onnx_graph.rewrite(model, relax.lowerings())


def assert_lowered_matches(model: onnx.ModelProto, feeds: dict[str, np.ndarray], rtol=1e-5, atol=1e-5) -> onnx.ModelProto:
    """The lowering replaced the node and ONNX Runtime gives the same outputs on both graphs."""
    rewritten = lowered(model)
    assert rewritten is not model, "the node was not lowered"
    for got, want in zip(run(rewritten, feeds), run(model, feeds), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return rewritten
