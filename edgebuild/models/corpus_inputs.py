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

    nhwc = spec.layout == "NHWC"
    height, width = (shape[1], shape[2]) if nhwc else (shape[2], shape[3])
    picture = Image.fromarray(load_sample_image("china.jpg")).resize((width, height), Image.BILINEAR)
    pixels = np.asarray(picture, np.float32)  # H, W, RGB in 0..255
    if spec.pixels == "unit":
        pixels = pixels / 255.0
    if spec.mean:
        pixels = pixels - np.asarray(spec.mean, np.float32)
    if spec.std:
        pixels = pixels / np.asarray(spec.std, np.float32)
    image = pixels if nhwc else pixels.transpose(2, 0, 1)
    return np.broadcast_to(image[None], shape)
