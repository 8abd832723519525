import pytest

from edgebuild import models
from edgebuild.errors import LookupFailed, ModelError


def test_builtin_models_resolve(project):
    assert models.resolve("digits-cnn", project).name == "digits-cnn"
    minilm = models.resolve("minilm", project)
    assert [s.shape for s in minilm.inputs()] == [(1, 128), (1, 128)]


def test_unknown_model_lists_the_valid_ones(project):
    with pytest.raises(LookupFailed, match="unknown model 'resnet'; valid models: digits-cnn, minilm, mobilenetv2, resnet18, tinydet. Or pass the path"):
        models.resolve("resnet", project)


def test_missing_onnx_file(project, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        models.resolve(str(tmp_path / "nope.onnx"), project)


def test_file_that_is_not_onnx(project, tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x00\x01 this is not protobuf \xff" * 10)
    model = models.resolve(str(path), project)
    with pytest.raises(ModelError, match=rf"{path}: not a readable ONNX model"):
        model.inputs()
