"""Task-level comparisons of a compiled corpus model with ONNX Runtime on the same input."""

from __future__ import annotations

import numpy as np

MIN_SCORE = 0.25
MIN_IOU = 0.9
MIN_COSINE = 0.999
CHECKS = ("top1", "boxes", "argmax_path", "cosine", "mask", "none")
# Box columns: centre and size, two corners, or centre and log size as YOLOX-style heads export them
# before decoding (each row's grid offset and stride are left out: both engines' row shares them, and
# IoU does not change when a pair of boxes is shifted and scaled together).
BOXES = ("xywh", "xyxy", "xywh_log")
ROWS = ("ordered", "set")


def relative_diff(got: list[np.ndarray], expected: list[np.ndarray]) -> float:
    """max over outputs of max |got - expected| / max |expected| (the output's scale)."""
    worst = 0.0
    for g, e in zip(got, expected):
        e = np.asarray(e, np.float64)
        if e.size == 0:
            continue
        scale = max(float(np.abs(e).max()), 1e-12)
        worst = max(worst, float(np.abs(np.asarray(g, np.float64) - e).max()) / scale)
    return worst


def paired(got: np.ndarray, expected: np.ndarray, score: int, tolerance: float) -> tuple[np.ndarray, str]:
    """For an output whose rows are a set ranked inside the graph (TopK): `got` with its rows reordered
    so that each row of `expected` meets a distinct row of `got`, the closest pairs first (max |difference|
    over the row), and what was compared. Near-tied scores may rank the same detections differently in
    two engines. Rows scoring within the tolerance (of the score column's scale) of the set's lowest score
    tie with candidates the graph left out, and either engine may keep any of them: those are compared by
    their score alone (their other columns are taken from `expected`)."""
    rows_g = got.reshape(-1, got.shape[-1]).astype(np.float64)
    rows_e = expected.reshape(-1, expected.shape[-1]).astype(np.float64)
    distance = np.abs(rows_e[:, None, :] - rows_g[None, :, :]).max(-1)
    match = np.full(len(rows_e), -1)
    taken, left = np.zeros(len(rows_g), bool), len(rows_e)
    for flat in np.argsort(distance, axis=None, kind="stable"):
        e, g = divmod(int(flat), len(rows_g))
        if match[e] < 0 and not taken[g]:
            match[e], taken[g], left = g, True, left - 1
            if not left:
                break
    out = rows_g[match]
    scores = rows_e[:, score]
    tied = scores <= scores.min() + tolerance * max(float(np.abs(scores).max()), 1e-12)
    keep = np.arange(rows_e.shape[1]) != score
    out[np.ix_(tied, keep)] = rows_e[np.ix_(tied, keep)]
    return out.reshape(expected.shape), (f"rows as a set: {int((~tied).sum())} of {len(rows_e)} compared in full, "
                                         f"{int(tied.sum())} tied with the lowest score by score only")


def task_check(kind: str, got: np.ndarray, expected: np.ndarray, box: str = "xywh", score: int = 4) -> tuple[bool, str]:
    """(passed, what was compared) for the first output."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if kind == "top1":
        a, b = got.reshape(-1).argmax(), expected.reshape(-1).argmax()
        return bool(a == b), f"top-1 class {a} vs ONNX Runtime {b}"
    if kind == "argmax_path":
        a, b = got.argmax(-1), expected.argmax(-1)
        same = int((a == b).sum())
        return same == b.size, f"{same}/{b.size} steps with the same argmax (the decoded text)"
    if kind == "cosine":
        a, b = got.reshape(-1), expected.reshape(-1)
        cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
        return cos >= MIN_COSINE, f"cosine {cos:.6f} (>= {MIN_COSINE})"
    if kind == "boxes":
        return _boxes(got, expected, box, score)
    if kind == "mask":
        return _mask(got, expected)
    return True, "no task-level check (raw head outputs)"


def _boxes(got, expected, box, score) -> tuple[bool, str]:
    rows_g, rows_e = got.reshape(-1, got.shape[-1]), expected.reshape(-1, expected.shape[-1])
    keep = rows_e[:, score] >= MIN_SCORE
    if not keep.any():
        return False, f"ONNX Runtime found no box scoring >= {MIN_SCORE}: nothing to compare"
    ious = _iou(_xyxy(rows_g[keep, :4], box), _xyxy(rows_e[keep, :4], box))
    worst = float(ious.min())
    return worst >= MIN_IOU, f"{int(keep.sum())} boxes scoring >= {MIN_SCORE}, lowest IoU {worst:.4f} (>= {MIN_IOU})"


def _mask(got, expected) -> tuple[bool, str]:
    """A label map (one class per pixel): IoU of each class's pixels, over the classes either engine found."""
    classes = np.union1d(np.unique(got), np.unique(expected))
    ious = {int(c): float(((got == c) & (expected == c)).sum() / ((got == c) | (expected == c)).sum()) for c in classes}
    worst = min(ious.values())
    differ = int((got != expected).sum())
    shown = ", ".join(f"{c}: {v:.4f}" for c, v in ious.items())
    return worst >= MIN_IOU, f"per-class IoU {{{shown}}} (>= {MIN_IOU}); {differ} of {expected.size} pixels differ"


def _xyxy(b, box):
    if box == "xyxy":
        return b
    if box == "xywh_log":
        b = np.concatenate([b[:, :2], np.exp(np.minimum(b[:, 2:4], 50))], axis=1)
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def _iou(a, b):
    lo, hi = np.maximum(a[:, :2], b[:, :2]), np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)
