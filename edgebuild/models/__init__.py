"""Models by name (built-in zoo) or by path (any ONNX file)."""

from __future__ import annotations

from pathlib import Path

from ..errors import unknown
from ..project import Project
from .base import Model, TensorSpec
from . import corpus, onnx_file

BUILTIN = ("digits-cnn", "minilm", "mobilenetv2", "resnet18", "tinydet")
DEFAULT = "digits-cnn"


def resolve(spec: str, project: Project) -> Model:
    """A built-in model name, or a path to an .onnx file (relative to the current directory)."""
    if spec == "digits-cnn":
        from .digits import DigitsCNN

        return DigitsCNN(project.cache_dir)
    if spec == "minilm":
        from .minilm import MiniLM

        return MiniLM()
    if spec in ("mobilenetv2", "resnet18"):
        from .vision import MobileNetV2, ResNet18

        return (MobileNetV2 if spec == "mobilenetv2" else ResNet18)(project.cache_dir)
    if spec == "tinydet":
        from .detector import TinyDetector

        return TinyDetector(project.cache_dir)
    if spec.startswith(corpus.PREFIX):
        return corpus.resolve(spec, project.root, project.cache_dir)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".onnx" or path.is_file():
        return onnx_file.load(path)
    raise unknown("model", spec, list(BUILTIN), "Or pass the path of an .onnx file, or corpus:NAME (corpus/models.toml)")


__all__ = ["BUILTIN", "DEFAULT", "Model", "TensorSpec", "resolve"]
