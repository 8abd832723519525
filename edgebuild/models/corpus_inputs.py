"""Real or in-range inputs for corpus models, as corpus/models.toml describes each input."""

from __future__ import annotations

import numpy as np

SEED = 0


def make(spec, dtype: str) -> np.ndarray:
    """The input of `spec` (a corpus InputSpec) with the graph's dtype."""
    rng = np.random.default_rng(SEED + sum(map(ord, spec.name)))
    shape = tuple(spec.shape)
    if spec.kind == "image":
        value = _image(spec, shape)
    elif spec.kind == "table":
        value = _table(spec, shape, rng)
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


def _image(spec, shape) -> np.ndarray:
    """scikit-learn's bundled photo (china.jpg), resized (bilinear) to the input's height and width."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    height, width = _size(spec, shape)
    picture = Image.fromarray(load_sample_image("china.jpg")).resize((width, height), Image.BILINEAR)
    return _pixels(spec, shape, picture)


def _table(spec, shape, rng) -> np.ndarray:
    """A ruled table on a white page, as a document scan shows one: black grid lines 2 px wide (seeded
    column positions) and a number in each cell; no photo bundled here shows a table."""
    from PIL import Image, ImageDraw

    height, width = _size(spec, shape)
    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    left, top, right, bottom = width // 12, height // 8, width - width // 12, height - height // 6
    rows = np.linspace(top, bottom, 9).astype(int)
    inner = np.sort(rng.choice(np.arange(left + width // 12, right - width // 12), 3, replace=False))
    cols = np.r_[left, inner, right]
    for y in rows:
        draw.line([(left, int(y)), (right, int(y))], fill=(0, 0, 0), width=2)
    for x in cols:
        draw.line([(int(x), top), (int(x), bottom)], fill=(0, 0, 0), width=2)
    for y in rows[:-1]:
        for x in cols[:-1]:
            draw.text((int(x) + 6, int(y) + 8), str(rng.integers(10, 99999)), fill=(0, 0, 0))
    return _pixels(spec, shape, page)


def _size(spec, shape) -> tuple[int, int]:
    return (shape[1], shape[2]) if spec.layout == "NHWC" else (shape[2], shape[3])


def _pixels(spec, shape, picture) -> np.ndarray:
    """An RGB picture as the input expects it: scaled, normalised, in its layout, broadcast to the batch."""
    pixels = np.asarray(picture, np.float32)  # H, W, RGB in 0..255
    if spec.pixels == "unit":
        pixels = pixels / 255.0
    if spec.mean:
        pixels = pixels - np.asarray(spec.mean, np.float32)
    if spec.std:
        pixels = pixels / np.asarray(spec.std, np.float32)
    image = pixels if spec.layout == "NHWC" else pixels.transpose(2, 0, 1)
    return np.broadcast_to(image[None], shape)
