"""ONNX Resize, where TVM 0.27's converter would compute something else, as Gathers of constant taps.

TVM's converter resizes only the spatial axes, to sizes it derives from scales, and maps coordinates
with out/in; it ignores antialias, axes and keep_aspect_ratio_policy, has no half_pixel_symmetric,
and divides by zero for a 1-pixel align_corners output. ONNX maps coordinates with the given scale,
which differs when in * scale is not whole (a 0.6 downsample). Resize is separable and its taps are
constants of the static shapes: per resized axis, output[i] = sum_k w[i, k] * input[idx[i, k]]
(coefficients as ONNX's reference computes them; edge clamping is index clamping), plus the
extrapolation value where tf_crop_and_resize samples outside the input. Nearest is one Gather.
Other Resize nodes stay TVM's (its resize kernels are faster than K gathers).

absent_when_empty: opsets 10-12 require roi and scales, and an exporter that resizes to `sizes`
passes them as empty tensors; TVM's importer takes an empty `scales` for a given one.
"""

from __future__ import annotations

import numpy as np

from . import onnx_graph

TVM_MODES = ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel", "tf_crop_and_resize")
FLOATS = (1, 10)  # TensorProto FLOAT, FLOAT16: interpolation multiplies; other types only gather


def absent_when_empty(inputs):
    """`inputs` of a Resize with an empty constant roi or scales given as absent (None), as opset 13 writes it."""
    import tvm

    def empty(x) -> bool:
        return isinstance(x, tvm.ir.expr.Constant) and x.value.numpy().size == 0

    out = type(inputs)(inputs)  # the importer's onnx_input: None past its end
    for i in (1, 2):
        if len(out) > i and empty(out[i]):
            out[i] = None
    return out


def lower(node, graph: onnx_graph.Graph) -> onnx_graph.Emit | None:
    """The node as Gathers (None: TVM's converter computes it as ONNX does, or shapes are not static)."""
    import onnx

    attrs = onnx_graph.attributes(node)
    shape = graph.static_shape(node.input[0])
    given = [node.input[i] if len(node.input) > i and node.input[i] else None for i in (1, 2, 3)]
    if graph.opset < 11 or shape is None or any(g is not None and g not in graph.constants for g in given):
        return None
    roi, scales, sizes = (graph.constants[g] if g is not None and graph.constants[g].size else None for g in given)
    plan = _plan(shape, roi, scales, sizes, attrs)
    if plan is None or _tvm_matches(shape, plan, scales, attrs):
        return None
    out_shape, axis_scales, axis_rois = plan
    mode = attrs.get("mode", "nearest")
    resized = [a for a in range(len(shape)) if not (np.isclose(axis_scales[a], 1.0) and out_shape[a] == shape[a]
                                                    and tuple(axis_rois[a]) == (0.0, 1.0))]
    per_axis = {a: _merge(*taps(shape[a], out_shape[a], axis_scales[a], mode, attrs, axis_rois[a])) for a in resized}
    pure = all(w.shape[1] == 1 and np.all(w == 1) and not e.any() for _, w, e in per_axis.values())
    dtype = graph.dtypes.get(node.input[0])
    if not pure and dtype not in FLOATS:
        return None
    emit = onnx_graph.Emit(node, graph.opset)
    x = node.input[0]
    if not resized:
        emit("Identity", x, out=node.output[0])
    np_dtype = onnx.helper.tensor_dtype_to_np_dtype(dtype) if dtype in FLOATS else None
    for n, a in enumerate(resized):
        x = _emit_axis(emit, x, a, len(shape), *per_axis[a], float(attrs.get("extrapolation_value", 0.0)), np_dtype,
                       out=node.output[0] if n == len(resized) - 1 else None)
    return emit


def _plan(shape, roi, scales, sizes, attrs):
    """(output shape, scale per axis, (roi start, end) per axis) as ONNX's reference resolves them."""
    r = len(shape)
    axes = [a % r for a in attrs.get("axes", range(r))]
    if (scales is None) == (sizes is None) or len(axes) != len(set(axes)):
        return None
    given = scales if scales is not None else sizes
    if given.size != len(axes) or (roi is not None and roi.size != 2 * len(axes)):
        return None
    rois = [(0.0, 1.0)] * r
    if roi is not None:
        for i, a in enumerate(axes):
            rois[a] = (float(roi[i]), float(roi[len(axes) + i]))
    axis_scales, out = [1.0] * r, list(shape)
    if scales is not None:
        for i, a in enumerate(axes):
            axis_scales[a] = float(scales[i])
            out[a] = int(axis_scales[a] * shape[a])
    else:
        for i, a in enumerate(axes):
            axis_scales[a], out[a] = int(sizes[i]) / shape[a], int(sizes[i])
        policy = attrs.get("keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller"):
            scale = (min if policy == "not_larger" else max)(axis_scales[a] for a in axes)
            for a in axes:
                axis_scales[a], out[a] = scale, int(scale * shape[a] + 0.5)
        elif policy != "stretch":
            return None
    if min(out) <= 0 or min(shape) <= 0:
        return None
    return out, axis_scales, rois


def _tvm_matches(shape, plan, scales, attrs) -> bool:
    """Whether TVM's converter computes this Resize as ONNX defines it (see the module's docstring)."""
    out, axis_scales, _ = plan
    r = len(shape)
    return (r in (3, 4, 5) and not attrs.get("antialias", 0) and "axes" not in attrs
            and attrs.get("keep_aspect_ratio_policy", "stretch") == "stretch"
            and attrs.get("coordinate_transformation_mode", "half_pixel") in TVM_MODES
            and all(out[a] == shape[a] and axis_scales[a] == 1.0 for a in (0, 1))
            and all(out[a] > 1 for a in range(2, r))
            and (scales is None or all(axis_scales[a] * shape[a] == out[a] for a in range(2, r))))


def taps(length: int, out_len: int, scale: float, mode: str, attrs: dict, roi: tuple[float, float]):
    """(indices [out, n], weights [out, n], extrapolated [out]) of one axis, as ONNX's reference computes them."""
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    y = np.arange(out_len, dtype=np.float64)
    width = scale * length  # the float output width: the coordinate maps use it, not out_len
    extrapolated = np.zeros(out_len, bool)
    if coord == "align_corners":
        x = np.zeros(out_len) if width == 1 else y * (length - 1) / (width - 1)
    elif coord == "asymmetric":
        x = y / scale
    elif coord == "tf_crop_and_resize":
        span = (roi[1] - roi[0]) * (length - 1)
        x = (np.full(out_len, span / 2) if width == 1 else y * span / (width - 1)) + roi[0] * (length - 1)
        extrapolated = (x < 0) | (x > length - 1)
    elif coord == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if width == 1 else (y + 0.5) / scale - 0.5
    elif coord == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif coord == "half_pixel_symmetric":
        x = length / 2 * (1 - out_len / width) + (y + 0.5) / scale - 0.5
    else:
        raise ValueError(f"Resize: unknown coordinate_transformation_mode {coord!r}")
    ratio = np.where(x == np.floor(x), 1.0, x - np.floor(x))  # in (0, 1]: the left pixel is preferred
    weights = np.stack([_coefficients(float(t), scale, mode, attrs) for t in ratio])
    n = weights.shape[1]
    # the n neighbours nearest x (ties to the smaller), in the edge-padded input, as the reference takes them
    pad = -(-n // 2)
    p = np.floor(x + pad)
    frac = x + pad - p
    if n % 2 == 0:
        start = p + np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        start = p + np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    index = start.astype(np.int64)[:, None] + np.arange(n)[None, :] - pad
    if attrs.get("exclude_outside", 0):
        weights = np.where((index < 0) | (index >= length), 0.0, weights)
        total = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(total == 0, 1.0, total)
    return np.clip(index, 0, length - 1), weights, extrapolated


def _coefficients(ratio: float, scale: float, mode: str, attrs: dict) -> np.ndarray:
    if mode == "nearest":
        if ratio == 1.0:
            return np.array([0.0, 1.0])
        rounding = attrs.get("nearest_mode", "round_prefer_floor")
        up = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": False, "ceil": True}
        return np.array([0.0, 1.0]) if up[rounding] else np.array([1.0, 0.0])
    a = float(attrs.get("cubic_coeff_a", -0.75))
    antialias = attrs.get("antialias", 0)
    if mode == "linear" and not antialias:
        return np.array([1 - ratio, ratio])
    if mode == "cubic" and not antialias:
        t = np.array([ratio + 1, ratio, 1 - ratio, 2 - ratio])
        return _cubic(t, a)
    s = min(scale, 1.0)  # antialias widens the kernel when downsampling
    reach = 1 if mode == "linear" else 2
    first = int(np.floor(-reach / s) + 1)
    t = (np.arange(first, 2 - first) - ratio) * s
    kernel = np.clip(1 - np.abs(t), 0, 1) if mode == "linear" else _cubic(t, a)
    return kernel / kernel.sum()


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _merge(index: np.ndarray, weights: np.ndarray, extrapolated: np.ndarray):
    """Taps with the same index summed and zero taps dropped: (indices [out, k], weights [out, k], extrapolated)."""
    rows = []
    for i, (idx, w) in enumerate(zip(index, weights)):
        merged: dict[int, float] = {}
        if not extrapolated[i]:
            for j, v in zip(idx.tolist(), w.tolist()):
                merged[j] = merged.get(j, 0.0) + v
        rows.append([(j, v) for j, v in merged.items() if v != 0.0] or [(0, 0.0)])
    k = max(len(r) for r in rows)
    merged_index = np.array([[j for j, _ in r] + [0] * (k - len(r)) for r in rows], np.int64)
    merged_weights = np.array([[v for _, v in r] + [0.0] * (k - len(r)) for r in rows])
    return merged_index, merged_weights, extrapolated


def _emit_axis(emit, x: str, axis: int, rank: int, index, weights, extrapolated, value: float, dtype,
               out: str | None) -> str:
    """x resized along `axis`: a Gather per tap, weighted and summed (one Gather for nearest)."""
    k = index.shape[1]
    if k == 1 and np.all(weights == 1) and not extrapolated.any():
        return emit("Gather", x, emit.const(index[:, 0]), axis=axis, out=out)
    along = (-1,) + (1,) * (rank - axis - 1)  # broadcast over the axes after `axis`
    terms = [emit("Mul", emit("Gather", x, emit.const(index[:, t]), axis=axis),
                  emit.const(weights[:, t].reshape(along).astype(dtype)),
                  out=out if k == 1 and not extrapolated.any() else None) for t in range(k)]
    total = terms[0] if k == 1 else emit("Sum", *terms, out=None if extrapolated.any() else out)
    if extrapolated.any():
        bias = np.where(extrapolated, value, 0.0).reshape(along).astype(dtype)
        total = emit("Add", total, emit.const(bias), out=out)
    return total

