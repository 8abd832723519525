"""--reference=FILE.npz: the build's reference input for graphs whose domain synthetic N(0,1) misses."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def log_model(tmp_path_factory):
    """y = log(x): NaN on negative inputs, as on half of N(0,1)."""
    graph = helper.make_graph([helper.make_node("Log", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    path = tmp_path_factory.mktemp("log") / "log.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_nan_on_synthetic_inputs_names_the_fix_and_writes_nothing(log_model, tmp_path):
    out = tmp_path / "bundle"
    done = invoke(ROOT, "build", f"--model={log_model}", f"--out={out}")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "hold NaN or inf" in done.stderr and "--reference=FILE.npz" in done.stderr
    assert not (out / "manifest.json").exists()


def test_given_reference_inputs_are_what_the_bundle_holds(log_model, tmp_path):
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    np.savez(tmp_path / "ref.npz", x=x)
    out = tmp_path / "bundle"
    done = invoke(ROOT, "build", f"--model={log_model}", f"--reference={tmp_path / 'ref.npz'}", f"--out={out}")
    assert done.returncode == 0, done.stderr
    with np.load(out / "reference.npz") as ref:
        stored = {k: ref[k] for k in ref.files}
    assert any(np.array_equal(v, x) for v in stored.values())
    assert any(np.allclose(v, np.log(x), rtol=1e-5) for v in stored.values())
    assert json.loads((out / "manifest.json").read_text())["metrics"]["max_abs_diff_vs_onnxruntime"] < 1e-5


def test_a_reference_of_the_wrong_shape_is_refused_before_compiling(log_model, tmp_path):
    np.savez(tmp_path / "ref.npz", x=np.ones((3, 2), np.float32))
    done = invoke(ROOT, "build", f"--model={log_model}", f"--reference={tmp_path / 'ref.npz'}",
                  f"--out={tmp_path / 'b'}")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"--reference={tmp_path / 'ref.npz'}: array 'x' has shape [3, 2]; the input's is [2, 3]" in done.stderr
    assert "compile" not in done.stderr
