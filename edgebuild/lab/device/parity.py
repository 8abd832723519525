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
