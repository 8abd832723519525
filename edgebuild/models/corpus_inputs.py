"""Real or in-range inputs for corpus models, as corpus/models.toml describes each input."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from . import corpus_drawings

SEED = 0
DRAWN = {"table": corpus_drawings.table, "book_pages": corpus_drawings.book_pages}


def make(spec, dtype: str) -> np.ndarray:
    """The input of `spec` (a corpus InputSpec) with the graph's dtype."""
    rng = np.random.default_rng(SEED + sum(map(ord, spec.name)))
    shape = tuple(spec.shape)
    if spec.kind in ("image", "glyphs"):
        value = _image(spec, shape, rng if spec.kind == "glyphs" else None)
    elif spec.kind in DRAWN:
        value = _pixels(spec, shape, DRAWN[spec.kind](*_size(spec, shape)[::-1], rng))
    elif spec.kind == "tokens":
        value = rng.integers(spec.low, spec.high, size=shape)
    elif spec.kind == "mask":
        value = np.ones(shape)
    elif spec.kind == "audio":
        t = np.arange(shape[-1]) / 16000.0
        tone = np.sin(2 * np.pi * (220.0 + 660.0 * t) * t)  # a rising chirp, plus a little noise
        value = np.broadcast_to(spec.amplitude * (0.8 * tone + 0.2 * rng.standard_normal(shape[-1])), shape)
    elif np.dtype(dtype).kind in "iub":
        value = rng.integers(int(spec.low), int(spec.high), size=shape, endpoint=spec.low == spec.high)
    else:
        value = rng.uniform(spec.low, spec.high, size=shape)
    return np.ascontiguousarray(value).astype(dtype)


def _image(spec, shape, rng=None) -> np.ndarray:
    """scikit-learn's bundled photo (china.jpg), resized (bilinear) to the input's height and width;
    kind "glyphs" draws captcha glyphs over it."""
    from PIL import Image

    height, width = _size(spec, shape)
    picture = _photo().resize((width, height), Image.BILINEAR)
    return _pixels(spec, shape, corpus_drawings.glyphs(picture, rng) if rng is not None else picture)


@functools.cache
def _photo():
    """The photo as sklearn.datasets.load_sample_image decodes it (with Pillow), read from the installed
    package's files: importing scikit-learn costs a build seconds."""
    from PIL import Image

    folder = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    with Image.open(Path(folder) / "datasets" / "images" / "china.jpg") as picture:
        return picture.convert("RGB")


def _size(spec, shape) -> tuple[int, int]:
    return (shape[1], shape[2]) if spec.layout == "NHWC" else (shape[2], shape[3])


def _pixels(spec, shape, picture) -> np.ndarray:
    """An RGB picture as the input expects it: scaled, normalised, in its layout, broadcast to the batch."""
    pixels = np.asarray(picture, np.float32)  # H, W, RGB in 0..255
    if spec.channels == "BGR":  # as OpenCV reads an image
        pixels = pixels[..., ::-1]
    if spec.pixels == "unit":
        pixels = pixels / 255.0
    if spec.mean:
        pixels = pixels - np.asarray(spec.mean, np.float32)
    if spec.std:
        pixels = pixels / np.asarray(spec.std, np.float32)
    image = pixels if spec.layout == "NHWC" else pixels.transpose(2, 0, 1)
    return np.broadcast_to(image[None], shape)
