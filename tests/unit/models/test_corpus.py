"""The corpus list (corpus/models.toml): validated by one typed class; its pins and inputs are usable."""

import dataclasses

import numpy as np
import pytest

from edgebuild.errors import ConfigError
from edgebuild.models import corpus, corpus_checks, corpus_drawings, corpus_inputs

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
    (('check = "top1"', 'check = "boxes"\nrows = "sorted"'), "rows 'sorted' is not one of ordered, set"),
    (('check = "top1"', 'check = "boxes"\nbox = "cxcy"'), "box 'cxcy' is not one of"),
    (('kind = "image"', 'kind = "image", channels = "BGRA"'), "channels 'BGRA' is not RGB or BGR"),
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


def test_drawn_inputs_show_what_detectors_look_for():
    spec = corpus.InputSpec(name="images", shape=[1, 3, 160, 160], kind="glyphs", pixels="byte")
    plain = corpus_inputs.make(dataclasses.replace(spec, kind="image"), "float32")
    glyphs = corpus_inputs.make(spec, "float32")
    assert np.array_equal(glyphs, corpus_inputs.make(spec, "float32"))
    assert 0.01 < (glyphs != plain).any(axis=1).mean() < 0.3  # four glyphs over the photo, not a new picture
    bgr = corpus_inputs.make(dataclasses.replace(spec, channels="BGR"), "float32")
    assert np.array_equal(bgr, glyphs[:, ::-1])
    book = dataclasses.replace(spec, shape=[1, 3, 320, 320], kind="book_pages", pixels="unit")
    pages = corpus_inputs.make(book, "float32")
    gray = pages[0, 0]
    assert 0 <= gray.min() and gray.max() == 1
    dark = gray < 0.5
    edges = (dark[:, 1:] != dark[:, :-1]).sum(axis=1)
    assert edges.max() >= 2 * 2 * 30  # a row across both barcodes: each EAN-13 has 30 bars, two edges each


def test_ean13_encodes_the_isbn_and_its_check_digit():
    digits = corpus_drawings.isbn13(np.random.default_rng(3))
    assert digits[:3] == [9, 7, 8] and len(digits) == 13
    assert sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0
    # 978-0-306-40615-7, the ISBN-13 example of ISO 2108's check-digit rule
    modules = corpus_drawings.ean13_modules([9, 7, 8, 0, 3, 0, 6, 4, 0, 6, 1, 5, 7])
    assert len(modules) == 95 and modules[:3] == modules[-3:] == "101" and modules[45:50] == "01010"
    left = [modules[3 + 7 * i:10 + 7 * i] for i in range(6)]
    right = [modules[50 + 7 * i:57 + 7 * i] for i in range(6)]
    assert "".join("L" if c.count("1") % 2 else "G" for c in left) == "LGGLGL"  # the parity that encodes 9
    assert all(c[0] == "1" and c[-1] == "0" and c.count("1") % 2 == 0 for c in right)
    assert right[-1] == "1000100"  # R-code of the check digit 7


def test_set_rows_pair_before_comparing():
    rows = np.array([[[10, 10, 20, 20, 0.90, 0.0], [12, 12, 22, 22, 0.89, 1.0], [50, 50, 60, 60, 1e-6, 2.0],
                      [70, 70, 80, 80, 2e-6, 2.0]]])
    swapped = rows[:, [1, 0, 3, 2]]
    paired, detail = corpus_checks.paired(swapped, rows, score=4, tolerance=1e-3)
    assert corpus_checks.relative_diff([paired], [rows]) == 0 and "2 of 4 compared in full" in detail
    assert corpus_checks.task_check("boxes", paired, rows, "xyxy")[0]
    assert corpus_checks.relative_diff([swapped], [rows]) > 0.2  # row by row it fails
    moved = swapped.copy()
    moved[0, 1, :4] += [5, 5, 5, 5]  # the first detection moved by half its size
    paired, _ = corpus_checks.paired(moved, rows, score=4, tolerance=1e-3)
    assert not corpus_checks.task_check("boxes", paired, rows, "xyxy")[0]
    assert corpus_checks.relative_diff([paired], [rows]) > 1e-3
    other_tail = rows.copy()
    other_tail[0, 3, :4] = [0, 0, 5, 5]  # a different near-zero candidate kept by the top-k: ties compare by score
    assert corpus_checks.relative_diff([corpus_checks.paired(other_tail, rows, 4, 1e-3)[0]], [rows]) == 0
    other_tail[0, 3, 4] = 0.2  # ...but a tail row that scores is a difference
    assert corpus_checks.relative_diff([corpus_checks.paired(other_tail, rows, 4, 1e-3)[0]], [rows]) > 1e-3


def test_log_size_boxes_are_compared_after_exp():
    raw = np.array([[[0.5, 0.5, 1.0, 1.0, 0.9, 0.9]]])
    wider = raw.copy()
    wider[0, 0, 2] += np.log(2)  # twice as wide: IoU 1/2
    assert corpus_checks.task_check("boxes", raw, raw, "xywh_log")[0]
    passed, detail = corpus_checks.task_check("boxes", wider, raw, "xywh_log")
    assert not passed and "0.5000" in detail


def test_an_edited_entry_makes_another_bundle(tmp_path):
    entry = corpus.load_all(_write(tmp_path, GOOD))["m"]
    folder = tmp_path / "cache" / "corpus" / "m"
    folder.mkdir(parents=True)
    (folder / "m.onnx").write_bytes(b"graph")
    sha = corpus.wheel_file.sha256_file(folder / "m.onnx")
    entry = dataclasses.replace(entry, sha256=sha, size=5)
    first = corpus.CorpusModel(entry, tmp_path / "cache" / "corpus").fingerprint()
    redrawn = dataclasses.replace(entry, inputs=[dataclasses.replace(entry.inputs[0], kind="glyphs")])
    assert corpus.CorpusModel(redrawn, tmp_path / "cache" / "corpus").fingerprint() != first
    described = dataclasses.replace(entry, task="another description")
    assert corpus.CorpusModel(described, tmp_path / "cache" / "corpus").fingerprint() == first
