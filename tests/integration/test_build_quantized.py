"""The issue's failing case: a conv model quantized by ONNX Runtime's quantize_dynamic (ConvInteger +
DynamicQuantizeLinear, as a user runs it, ORT's defaults) builds with `invoke build`, keeps its int8
weights int8 in model.so and predicts what ONNX Runtime predicts."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from edgebuild import bundle
from edgebuild.compile.runner import HostModel

from ..conftest import ROOT, invoke
from ..unit.compile import quantized_graphs as qg
from tests.conftest import int8_layouts, library_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dynamic_onnx(tmp_path_factory, project):
    from onnxruntime.quantization import quantize_dynamic

    from edgebuild import export, models

    model = models.resolve("digits-cnn", project)  # trained on scikit-learn's digits
    folder = tmp_path_factory.mktemp("dynamic")
    export.to_onnx(model.load(), model.inputs(), model.output_names, folder / "digits.onnx")
    quantize_dynamic(str(folder / "digits.onnx"), str(folder / "digits_dynamic.onnx"))
    return folder / "digits_dynamic.onnx"


def test_quantize_dynamic_conv_model_builds_with_int8_weights_and_matches_onnxruntime(dynamic_onnx, tmp_path):
    from edgebuild.models.digits import dataset

    graph = onnx.load(str(dynamic_onnx))
    assert {"ConvInteger", "DynamicQuantizeLinear"} <= {n.op_type for n in graph.graph.node}
    out = tmp_path / "bundle"
    done = invoke(ROOT, "build", f"--model={dynamic_onnx}", f"--out={out}")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert "max_abs_diff_vs_onnxruntime" in manifest["metrics"]  # recorded; ORT's own error shows in it (below)
    data = library_bytes(out / "model.so")
    inits = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
    weights = [inits[n.input[1]] for n in graph.graph.node if n.op_type == "ConvInteger"]
    for w in weights:  # int8, verbatim in the layout the int8 conv kernel reads; never widened
        hwio = np.ascontiguousarray(w.transpose(2, 3, 1, 0))
        assert w.dtype == np.int8 and any(layout.tobytes() in data for layout in int8_layouts(w))
        assert hwio.astype(np.float32).tobytes()[:64] not in data
    model = HostModel(out / "model.so", ["image"])
    # The exact integer result is ONNX Runtime's on the same graph with its int8 weights stored as uint8
    # (identical values): its uint8 x int8 kernels saturate int16 pair sums on x86 (vpmaddubsw), which
    # the build's N(0, 1) reference input, wider than any digit, provokes.
    exact = ort.InferenceSession(str(qg.ort_exact(dynamic_onnx)), providers=["CPUExecutionProvider"])
    inputs, _ = bundle.read_reference(out / "reference.npz")
    (want,) = exact.run(None, inputs)
    assert np.abs(model(inputs)[0] - want).max() <= 1e-5 * np.abs(want).max()
    _, _, x_test, _ = dataset()
    session = ort.InferenceSession(str(dynamic_onnx), providers=["CPUExecutionProvider"])
    ours = np.array([model({"image": x[None]})[0].argmax() for x in x_test])
    theirs = np.array([session.run(None, {"image": x[None]})[0].argmax() for x in x_test])
    assert (ours == theirs).all()  # top-1 on the 500 held-out images, against ONNX Runtime as it runs
