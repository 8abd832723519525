"""Is a profile valid? Percentiles only from enough runs, no throttling or clock change during it.

Pure functions of what the device agent reports (its timed runs, and its clock readings before the
warm-up and after the last timed run), so the rules are tested on recorded device outputs.
A percentile needs enough runs to estimate it: p90 from 64 runs, p99 from 662 (the counts MLPerf's
inference rules use for those percentiles at 99% confidence); with fewer the field is left out and
`omitted` says why. Clocks are read from `vcgencmd get_throttled` (Raspberry Pi firmware), cpufreq
(Linux), `nvpmodel -q` and `jetson_clocks --show` (Jetson: GPU, memory and CPU clocks, lab/jetson.py); only the endpoints are sampled, so a change in between that was
undone by the end shows only in vcgencmd's sticky "has occurred" bits. With none of them readable the
result says `clocks: unknown` and why, and `valid` is null rather than true.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import jetson

MIN_RUNS = {"p90": 64, "p99": 662}
# vcgencmd get_throttled: bits 0-3 are true now, bits 16-19 have occurred since boot (same order).
THROTTLE_BITS = {0: "under-voltage", 1: "ARM frequency capped", 2: "throttled", 3: "soft temperature limit"}


def latency(times_ms: list[float]) -> dict[str, Any]:
    ms = np.asarray(times_ms, dtype=np.float64)
    out: dict[str, Any] = {"p50": float(np.percentile(ms, 50)), "mean": float(ms.mean()), "min": float(ms.min()),
                           "max": float(ms.max()), "runs": int(ms.size)}
    omitted = {}
    for name, need in MIN_RUNS.items():
        if ms.size >= need:
            out[name] = float(np.percentile(ms, int(name[1:])))
        else:
            omitted[name] = f"needs >= {need} runs to estimate, got {ms.size} (raise --runs)"
    if omitted:
        out["omitted"] = omitted
    return out


def throttled(text: str | None) -> int | None:
    """The flags of `vcgencmd get_throttled` output ("throttled=0x50005"), or None."""
    if not text or "=" not in text:
        return None
    try:
        return int(text.split("=", 1)[1].strip(), 16)
    except ValueError:
        return None


def _flags(bits: int, shift: int) -> list[str]:
    return [name for bit, name in THROTTLE_BITS.items() if bits >> (bit + shift) & 1]


def clock_reasons(before: dict, after: dict) -> tuple[dict[str, Any], list[str]]:
    """(clocks entry of the result, reasons the run is invalid) from two clock readings."""
    reasons = []
    sources = [k for k in ("throttled", "freq_khz", "jetson_power_mode") if before.get(k) or after.get(k)]
    if jetson.jetson_clocks(before.get("jetson_clocks")) and jetson.jetson_clocks(after.get("jetson_clocks")):
        sources.append("jetson_clocks")
    if not sources:
        return ({"state": "unknown", "reason": "the device has no vcgencmd, no readable cpufreq, no nvpmodel and "
                                              "no jetson_clocks: throttling and clock changes cannot be seen"}, [])
    was, now = throttled(before.get("throttled")), throttled(after.get("throttled"))
    if was is not None or now is not None:
        current = sorted(set(_flags(was or 0, 0)) | set(_flags(now or 0, 0)))
        if current:
            reasons.append(f"vcgencmd reports {', '.join(current)} during the run")
        new = sorted(set(_flags(now or 0, 16)) - set(_flags(was or 0, 16)))
        if new:
            reasons.append(f"vcgencmd reports {', '.join(new)} occurred during the run")
    for key, what in (("freq_khz", "CPU clock changed {} -> {} kHz"), ("governor", "cpufreq governor changed {} -> {}"),
                      ("jetson_power_mode", "Jetson power mode changed {} -> {}")):
        a, b = before.get(key), after.get(key)
        if a and b and a != b:
            reasons.append(what.format(" ".join(a.split()), " ".join(b.split())))
    reasons += jetson.clock_changes(before.get("jetson_clocks"), after.get("jetson_clocks"))
    return {"state": "changed" if reasons else "steady", "sources": sources, "before": before, "after": after}, reasons


def judge(agent: dict, min_seconds: float) -> dict[str, Any]:
    """The result fields that say what the agent's timings are worth: latency_ms (None when the run
    failed), valid (True, False, or None when the clocks are unknown), invalid_reasons, clocks."""
    reasons = []
    figures = latency(agent["times_ms"]) if agent.get("times_ms") else None
    if not agent.get("ok"):
        reasons.append(f"the run failed: {agent.get('error')}")
    seconds = agent.get("timed_seconds")
    if seconds is not None and seconds < min_seconds:
        reasons.append(f"timed for {seconds:.1f} s, under the minimum {min_seconds:g} s (the run cap was reached)")
    clocks, clock_problems = clock_reasons(agent.get("clocks_before") or {}, agent.get("clocks_after") or {})
    reasons += clock_problems
    valid = False if reasons else (None if clocks["state"] == "unknown" else True)
    failed = not agent.get("ok")  # its figures are kept for diagnosis, never for statistics or reports
    return {"latency_ms": None if failed else figures, "valid": valid, "invalid_reasons": reasons, "clocks": clocks,
            "failed_latency_ms": figures if failed else None}
