# Parity of a bundle's outputs against reference.npz: numpy only, so the device agent runs it (sent
# ahead of agent.py) and the host imports it. NaN or inf in any output fails, whatever the others
# say: a plain max() over outputs would let a NaN through, as max(0.0, nan) is 0.0.


def compare(got, expected, tolerance=None):
    """(max abs diff, tolerance, error or None) of output arrays `got` against `expected`."""
    import numpy as np  # here: on the device, numpy is importable only once the agent set its path

    if [list(g.shape) for g in got] != [list(e.shape) for e in expected]:
        return float("nan"), tolerance, "output shapes differ from reference.npz"
    for i, g in enumerate(got):
        g = np.asarray(g)
        if g.dtype.kind in "fc" and not np.all(np.isfinite(g)):
            bad = "NaN" if np.isnan(g).any() else "inf"
            return float("nan"), tolerance, "output %d holds %s values" % (i, bad)
    diffs = [float(np.max(np.abs(np.asarray(g, np.float64) - np.asarray(e, np.float64)))) if e.size else 0.0
             for g, e in zip(got, expected)]
    diff = float(np.max(diffs)) if diffs else 0.0
    if tolerance is None:
        scale = max([1.0] + [float(np.max(np.abs(e))) for e in expected if e.size])
        tolerance = 1e-3 * scale
    if not np.isfinite(diff):
        return diff, tolerance, "parity is not a finite number (the reference holds NaN or inf)"
    if diff > tolerance:
        return diff, tolerance, "parity %.3g exceeds the bundle's tolerance %.3g" % (diff, tolerance)
    return diff, tolerance, None


# reference.npz holds the reference input (input/NAME, output/NAME) and, for a graph that quantizes
# activations at run time, more cases (caseK/input/NAME, ...; manifest "parity_inputs"). Such a graph
# moves by a whole quantization step when another CPU adds floats in another order, so it passes when
# most inputs are within ("parity_rule": "majority"); NaN, inf or wrong shapes fail on any input.
MAX_PARITY_INPUTS = 64  # edgebuild.schema.MAX_PARITY_INPUTS, which the host checks before a deploy


def reference_cases(ref, manifest):
    """[(inputs, expected outputs)] of an opened reference.npz, the reference input first."""
    count = manifest.get("parity_inputs", 1)
    if type(count) is not int or not 1 <= count <= MAX_PARITY_INPUTS:
        raise ValueError("manifest.json: parity_inputs must be an integer from 1 to %d" % MAX_PARITY_INPUTS)
    cases = []
    for k in range(count):
        prefix = "case%d/" % k if k else ""
        cases.append(([ref[prefix + "input/" + s["name"]] for s in manifest["inputs"]],
                      [ref[prefix + "output/" + s["name"]] for s in manifest["outputs"]]))
    return cases


def judge(run, cases, manifest):
    """Parity over every case, `run(inputs) -> outputs`: {parity_max_abs_diff (on the reference input),
    parity_tolerance, parity_error (None when it passes), parity_inputs, parity_inputs_within}."""
    tolerance = manifest.get("parity_tolerance")
    judged = [compare(run(inputs), expected, tolerance) for inputs, expected in cases]
    diff, tolerance, error = judged[0]
    # only a finite difference beyond the tolerance may be outvoted; NaN, inf and shapes never are
    hard = [e for d, t, e in judged if e is not None and not (d == d and abs(d) != float("inf") and d > t)]
    within = sum(e is None for _, _, e in judged)
    enough = within * 2 > len(judged) if manifest.get("parity_rule") == "majority" else within == len(judged)
    if hard:
        error = hard[0]
    elif enough:
        error = None
    elif error is None:
        error = next(e for _, _, e in judged if e is not None)
    if error is not None and len(judged) > 1:
        error += " (within on %d of %d inputs)" % (within, len(judged))
    return {"parity_max_abs_diff": diff if diff == diff and abs(diff) != float("inf") else None,
            "parity_tolerance": tolerance, "parity_error": error,
            "parity_inputs": len(judged), "parity_inputs_within": within}
