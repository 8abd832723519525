"""The corpus list (corpus/models.toml): validated by one typed class; its pins and inputs are usable."""

import dataclasses

import numpy as np
import pytest

from edgebuild.errors import ConfigError
from edgebuild.models import corpus, corpus_checks, corpus_inputs

ROOT = corpus.FILE.parent


def test_the_committed_corpus_is_valid_and_covers_the_required_kinds(project):
    entries = corpus.load_all(project.root)
    assert len(entries) >= 10
    text = " ".join(f"{e.task} {e.ops}" for e in entries.values())
    for needed in ("YOLO", "LSTM", "GRU", "transformer", "audio", "depthwise", "Resize", "int8", "ConvTranspose"):
        assert needed in text, needed
    assert len({e.sha256 for e in entries.values()}) == len(entries)


def _write(tmp_path, body):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "models.toml").write_text(body)
    return tmp_path


GOOD = """[[model]]
name = "m"
package = "pkg==1.0"
wheel_sha256 = "%s"
file = "pkg/m.onnx"
sha256 = "%s"
size = 10
licence = "MIT"
task = "t"
ops = "Conv"
check = "top1"
tolerance = 1e-3
inputs = [{ name = "x", shape = [1, 3, 8, 8], kind = "image" }]
""" % ("a" * 64, "b" * 64)


def test_a_valid_entry_loads_into_typed_fields(tmp_path):
    entry = corpus.load_all(_write(tmp_path, GOOD))["m"]
    assert entry.inputs[0] == corpus.InputSpec(name="x", shape=[1, 3, 8, 8], kind="image")
    assert entry.files == [("pkg/m.onnx", "b" * 64, 10)]


@pytest.mark.parametrize("change, message", [
    (('package = "pkg==1.0"', 'package = "pkg"'), "must be NAME==VERSION"),
    (('package = "pkg==1.0"', 'package = "silero_vad==5.1"'), "reserved for independent checks"),
    (('check = "top1"', 'check = "best"'), "check 'best' is not one of"),
    (('licence = "MIT"\n', ''), "missing field"),
    (('kind = "image"', 'kind = "video"'), "needs name, shape and kind"),
    (('tolerance = 1e-3', 'tolerance = 2'), "tolerance 2 must be in"),
])
def test_bad_entries_are_refused_naming_the_entry_and_field(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message) as err:
        corpus.load_all(_write(tmp_path, GOOD.replace(*change)))
    assert "[[model]] #1 (m)" in str(err.value) or "reserved" in message


def test_inputs_are_in_range_and_deterministic():
    image = corpus.InputSpec(name="x", shape=[1, 3, 32, 48], kind="image", pixels="unit")
    a, b = corpus_inputs.make(image, "float32"), corpus_inputs.make(image, "float32")
    assert a.shape == (1, 3, 32, 48) and 0 <= a.min() < a.max() <= 1 and np.array_equal(a, b)
    tokens = corpus.InputSpec(name="ids", shape=[1, 50], kind="tokens", low=4, high=9)
    ids = corpus_inputs.make(tokens, "int64")
    assert ids.dtype == np.int64 and ids.min() >= 4 and ids.max() < 9
    assert corpus_inputs.make(corpus.InputSpec(name="m", shape=[1, 5], kind="mask"), "bool").all()
    nhwc = dataclasses.replace(image, shape=[1, 32, 48, 3], layout="NHWC", pixels="byte", mean=[100.0, 100.0, 100.0])
    assert corpus_inputs.make(nhwc, "float32").max() > 1
    table = corpus_inputs.make(dataclasses.replace(image, shape=[1, 3, 128, 96], kind="table", pixels="byte"), "float32")
    page = table[0, 0]
    assert page.max() == 255 and (page == 0).mean() > 0.02  # white page, black rulings and digits
    assert ((page[:, 40:56] < 128).mean(axis=1) == 1).sum() >= 9  # nine horizontal rulings cross the page


def test_task_checks_fail_when_the_task_result_differs():
    assert corpus_checks.task_check("top1", np.array([[0.1, 0.9]]), np.array([[0.2, 0.8]]))[0]
    assert not corpus_checks.task_check("top1", np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]]))[0]
    boxes = np.array([[[10, 10, 4, 4, 0.9, 1.0], [50, 50, 4, 4, 0.1, 1.0]]])
    moved = boxes.copy()
    moved[0, 0, 0] += 2  # half the box width: IoU 1/3
    assert corpus_checks.task_check("boxes", boxes, boxes)[0]
    assert not corpus_checks.task_check("boxes", moved, boxes)[0]
    path = np.array([[[0.1, 0.9], [0.8, 0.2]]])
    assert not corpus_checks.task_check("argmax_path", path[:, ::-1], path)[0]
    assert corpus_checks.relative_diff([np.array([1.0, 2.001])], [np.array([1.0, 2.0])]) == pytest.approx(5e-4)
    labels = np.zeros((1, 1, 20, 20), np.int64)
    labels[0, 0, 5, :], labels[0, 0, :, 7] = 1, 2
    assert corpus_checks.task_check("mask", labels, labels)[0]
    thinner = labels.copy()
    thinner[0, 0, 5, 10:] = 0  # 10 of class 1's 19 pixels lost: IoU 9/19
    passed, detail = corpus_checks.task_check("mask", thinner, labels)
    assert not passed and "1: 0.4737" in detail
