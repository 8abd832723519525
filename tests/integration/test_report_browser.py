"""`invoke report` rendered by a real browser (Debian's chromium, headless): cells, plots, front, emulation, pixels.

The history is seeded with known rows (tests/unit/report/seed.py); the test reads the page back from
chromium's --dump-dom and checks its screenshot is not blank.
"""

import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import numpy as np
import pytest

from edgebuild.flows import history as flow
from edgebuild.project import Project
from tests.conftest import ROOT, invoke
from tests.unit.report import seed

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--hide-scrollbars", "--window-size=1400,2400"]


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], ""

    def all(self, tag=None, **attrs):
        for child in self.children:
            if (tag is None or child.tag == tag) and all(child.attrs.get(k.replace("_", "-")) == v
                                                         for k, v in attrs.items()):
                yield child
            yield from child.all(tag, **attrs)

    def content(self):
        return self.text + "".join(c.content() for c in self.children)


class Tree(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self, text):
        super().__init__()
        self.root = self.here = Element("root", {}, None)
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.here)
        self.here.children.append(element)
        if tag not in self.VOID:
            self.here = element

    def handle_startendtag(self, tag, attrs):
        self.here.children.append(Element(tag, attrs, self.here))

    def handle_endtag(self, tag):
        node = self.here
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.here = node.parent

    def handle_data(self, data):
        self.here.text += data


def png_pixels(path):
    """(width, height, bytes per pixel, rows) of an 8-bit non-interlaced PNG, as chromium writes them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = [], np.zeros(stride, np.uint8)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).copy()
        if kind == 1:  # Sub: a running sum along the row, per channel
            line = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint64).astype(np.uint8).reshape(-1)
        elif kind == 2:  # Up
            line = line + prev
        elif kind in (3, 4):  # Average, Paeth: each byte needs the one decoded left of it
            out, up = line.tolist(), prev.tolist()
            for i in range(stride):
                a, b, c = (out[i - bpp] if i >= bpp else 0), up[i], (up[i - bpp] if i >= bpp else 0)
                if kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                out[i] = (out[i] + pred) & 0xFF
            line = np.array(out, np.uint8)
        rows.append(line)
        prev = line
    return width, height, bpp, np.stack(rows).reshape(height, width, bpp)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(page file, its DOM as chromium rendered it, a screenshot) of a project whose history holds the seed."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: run scripts/setup --test (as root) or scripts/install-lab-test-deps")
    root = tmp_path_factory.mktemp("report") / "proj"
    root.mkdir()
    shutil.copy(ROOT / "tasks.py", root / "tasks.py")
    flow.record(Project(root), seed.runs())
    out = root / "out" / "report.html"
    done = invoke(root, "report", f"--out={out}")
    assert done.returncode == 0, done.stderr
    assert f"wrote {out} (" in done.stdout
    profile = root / "chrome"
    shot = root / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", out.as_uri()],
                   check=True, capture_output=True, timeout=180)
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", out.as_uri()],
                         check=True, capture_output=True, text=True, timeout=180).stdout
    return out, Tree(dom).root, shot


def cell(root, row, col):
    [tr] = list(root.all("tr", data_row=row))
    [td] = list(tr.all("td", data_col=col))
    return td.content()


def test_named_cells_hold_the_seeded_values(page):
    _, root, _ = page
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "p50 ms") == "1.250"
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "p99 ms") == "1.625"
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "model.so bytes") == "72,240"
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "accuracy / cosine") == "accuracy 99.2"
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "peak model memory") == "3.0 MiB"
    assert cell(root, "digits-cnn|int8-static|rpi4|rpi4-emu|profile", "measured on") == "EMULATED"
    assert cell(root, "digits-cnn|none|rpi4|pi-1|profile", "p50 ms") == "2.400"
    assert cell(root, "digits-cnn|none|rpi4|pi-1|profile", "runs") == "6"
    assert cell(root, "digits-cnn|none|rpi4|pi-1|profile", "baseline p50 (median ± MAD)") == "2.000 ± 0.010 (5 runs)"
    assert cell(root, "digits-cnn|none|rpi4|pi-1|profile", "change") == "+20.0%"
    assert cell(root, "digits-cnn|none|rpi4|pi-1|profile", "regression") == "REGRESSION"
    assert cell(root, "digits-cnn|int8-static|rpi4|pi-1|profile", "regression") == "–"
    assert cell(root, "digits-cnn|prune|rpi4|pi-2|profile", "validity") == "invalid: throttled during the run"
    assert cell(root, "digits-cnn|none|host|build-host-1|bench", "TVM / ORT") == "1.20x"
    assert cell(root, "minilm|none|rpi4|-|build", "accuracy / cosine") == "cosine_to_fp32 0.9987"
    assert cell(root, "minilm|none|rpi4|-|build", "transfer bytes") == "105,694"
    settings = next(root.all("p", id="regression-settings"))
    assert (settings.attrs["data-runs"], settings.attrs["data-mads"], settings.attrs["data-floor"]) == ("5", "3", "0.05")


def test_every_plot_is_there_and_names_its_origin(page):
    _, root, _ = page
    plots = [(s.attrs["data-model"], s.attrs["data-plot"], s.attrs.get("data-target") or s.attrs.get("data-device"),
              s.attrs["data-axis"]) for s in root.all("svg")]
    assert sorted(plots) == sorted([
        ("digits-cnn", "accuracy-latency", "rpi4", "hardware"), ("digits-cnn", "accuracy-latency", "rpi4", "emulated"),
        ("digits-cnn", "accuracy-size", "rpi4", "build"), ("digits-cnn", "latency-time", "pi-1", "hardware"),
        ("digits-cnn", "latency-time", "pi-2", "hardware"), ("digits-cnn", "latency-time", "rpi4-emu", "emulated"),
        ("digits-cnn", "latency-time", "build-host-1", "hardware"), ("digits-cnn", "bench-ratios", None, "hardware"),
        ("minilm", "accuracy-size", "rpi4", "build")])
    for figure in root.all("figure"):
        [caption] = list(figure.all("figcaption"))
        assert f"commit {seed.COMMIT}" in caption.content() and "host build-host-1" in caption.content()
    bars = {b.attrs["data-engine"]: b.attrs["data-value"] for b in root.all("rect") if "data-engine" in b.attrs}
    assert bars == {"tvm": "1.2", "tvm-untuned": "4.7"}


def _front(points):
    return [p for p in points if not any(q != p and q[0] <= p[0] and q[1] >= p[1] for q in points)]


def test_pareto_markers_match_a_front_computed_here(page):
    _, root, _ = page
    [plot] = list(root.all("svg", data_plot="accuracy-latency", data_axis="hardware"))
    valid = {"none": seed.PI1["none"], "int8-static": seed.PI1["int8-static"], "prune": seed.PI1["prune"],
             "cluster": seed.PI1["cluster"]}  # pi-2's run is invalid: left out of the plot
    points = [(p50, seed.BUILDS[recipe][3]) for recipe, p50 in valid.items()]
    expected = _front(points)
    markers = [(float(m.attrs["data-x"]), float(m.attrs["data-y"])) for m in plot.all("circle")
               if m.attrs.get("class") == "pareto-marker"]
    assert sorted(markers) == sorted(expected) and len(expected) == 2
    [size] = list(root.all("svg", data_plot="accuracy-size", data_model="digits-cnn"))
    size_front = _front([(so, acc) for _, so, _, acc in seed.BUILDS.values()])
    assert len([m for m in size.all("circle") if m.attrs.get("class") == "pareto-marker"]) == len(size_front) == 2


def test_emulated_series_have_their_own_axes(page):
    _, root, _ = page
    emulated_plots = 0
    for plot in root.all("svg"):
        marks = {m.attrs["data-emulated"] for m in plot.all() if "data-emulated" in m.attrs}
        if plot.attrs["data-axis"] == "emulated":
            emulated_plots += 1
            assert marks == {"true"} and "EMULATED" in plot.content()
        else:
            assert "true" not in marks
    assert emulated_plots == 2


def test_the_page_is_self_contained_small_and_not_blank(page):
    out, root, shot = page
    html = out.read_text()
    assert not any(e.attrs.get("src") or e.attrs.get("href") for e in root.all())
    assert "<script" not in html and "url(" not in html
    assert len(html.encode()) < 100_000
    shutil.copy(shot, ROOT / "build" / "report-test-screenshot.png")  # for a person to look at
    width, height, bpp, pixels = png_pixels(shot)
    assert (width, height) == (1400, 2400)
    rgb = pixels[:, :, :3].reshape(-1, 3)
    colors = np.unique(rgb, axis=0)
    ink = np.count_nonzero((rgb != 255).any(axis=1)) / len(rgb)
    assert len(colors) > 20 and ink > 0.05, (len(colors), ink)
    shown = {tuple(int(v) for v in c) for c in colors}
    assert {(255, 246, 224), (253, 224, 224)} <= shown  # an EMULATED row's and a REGRESSION row's background
