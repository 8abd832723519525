"""Bad input through the real command line: a clear message, exit status 1, no traceback, no partial bundle."""

import onnx
import pytest
from onnx import TensorProto, helper

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


def fails(root, *args, match: list[str]):
    done = invoke(root, "build", *args)
    assert done.returncode == 1, done.stdout + done.stderr
    # progress lines may come first (stderr); the error is a line of its own, without a traceback
    assert "Traceback" not in done.stderr and ("\n" + done.stderr).count("\nerror: ") == 1, done.stderr
    for text in match:
        assert text in done.stderr, done.stderr
    return done


def test_unknown_names_list_the_valid_choices():
    fails(ROOT, "--target=rpi9", match=["unknown target 'rpi9'", "rpi4", "jetson-orin-nano"])
    fails(ROOT, "--recipe=int3", match=["unknown recipe 'int3'", "none"])
    fails(ROOT, "--model=resnet", match=["unknown model 'resnet'", "digits-cnn, minilm, mobilenetv2, resnet18"])


def test_malformed_target_file_names_file_line_and_key(tmp_project):
    path = tmp_project.targets_dir / "rpi4.toml"
    path.write_text(path.read_text().replace('mcpu = "cortex-a72"', 'mcpu = cortex-a72'))
    fails(tmp_project.root, "--target=rpi4", match=[f"{path}:", "malformed TOML", "mcpu"])


def test_bad_onnx_file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07garbage" * 20)
    fails(ROOT, f"--model={path}", match=[str(path), "not a readable ONNX model"])


def test_input_shape_for_an_input_the_model_lacks():
    fails(ROOT, "--input-shape=pixels:1,1,8,8", match=["no input 'pixels'", "its inputs are: image"])


def test_unsupported_operator_names_op_and_node_and_leaves_no_partial_bundle(tmp_path):
    graph = helper.make_graph(  # Det: a standard ONNX operator TVM's importer lacks
        [helper.make_node("Det", ["x"], ["y"], name="det")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    out = tmp_path / "out"
    out.mkdir()
    fails(ROOT, f"--model={path}", "--target=rpi4", f"--out={out}", match=["Det (node 'det')"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "q.onnx"]
    assert list(out.iterdir()) == []  # nothing half-written (only a real bundle may be replaced: test_lab_inputs)
