"""Valid or not: percentiles from enough runs, throttling and clock changes from recorded device outputs."""

import pytest


# Recorded on Raspberry Pi OS (vcgencmd get_throttled) and from /sys/devices/system/cpu/cpu0/cpufreq.
STEADY = {"throttled": "throttled=0x0", "governor": "ondemand", "freq_khz": "1800000", "max_freq_khz": "1800000"}
HOT = {"throttled": "throttled=0xe0008", "governor": "ondemand", "freq_khz": "1500000", "max_freq_khz": "1800000"}
UNDERVOLTED_NOW = {"throttled": "throttled=0x50005", "governor": "ondemand", "freq_khz": "600000"}
PAST_ONLY = {"throttled": "throttled=0x50000", "governor": "ondemand", "freq_khz": "1800000"}


def agent(n, before=STEADY, after=STEADY, seconds=2.0, ok=True, error=None):
    return {"ok": ok, "error": error, "times_ms": [1.0 + i / n for i in range(n)], "timed_seconds": seconds,
            "clocks_before": before, "clocks_after": after}


def judge(data, min_seconds=1.0):
    from edgebuild.lab import validity

    return validity.judge(data, min_seconds)


def test_percentiles_only_from_enough_runs():
    few = judge(agent(20))["latency_ms"]
    assert {"p50", "mean", "min", "max", "runs"} <= set(few) and "p90" not in few and "p99" not in few
    assert "64" in few["omitted"]["p90"] and "662" in few["omitted"]["p99"]
    some = judge(agent(64))["latency_ms"]
    assert "p90" in some and "p99" not in some and some["runs"] == 64
    many = judge(agent(662))["latency_ms"]
    assert "p90" in many and "p99" in many and "omitted" not in many


def test_steady_clocks_are_valid():
    r = judge(agent(64))
    assert r["valid"] is True and r["invalid_reasons"] == [] and r["clocks"]["state"] == "steady"


def test_throttling_during_the_run_invalidates():
    r = judge(agent(64, STEADY, HOT))
    assert r["valid"] is False
    text = " ".join(r["invalid_reasons"])
    assert "soft temperature limit" in text and "CPU clock changed 1800000 -> 1500000 kHz" in text


def test_under_voltage_now_invalidates_but_a_past_event_does_not():
    assert judge(agent(64, UNDERVOLTED_NOW, UNDERVOLTED_NOW))["valid"] is False
    assert "under-voltage" in " ".join(judge(agent(64, UNDERVOLTED_NOW, UNDERVOLTED_NOW))["invalid_reasons"])
    assert judge(agent(64, PAST_ONLY, PAST_ONLY))["valid"] is True


def test_jetson_power_mode_change_invalidates():
    before = {"jetson_power_mode": "NV Power Mode: MAXN\n0", "freq_khz": "1510400"}
    after = {"jetson_power_mode": "NV Power Mode: 15W\n1", "freq_khz": "1510400"}
    r = judge(agent(64, before, after))
    assert r["valid"] is False and "power mode" in " ".join(r["invalid_reasons"])


def test_unknown_clocks_are_said_never_silently_valid():
    r = judge(agent(64, {}, {}))
    assert r["clocks"]["state"] == "unknown" and "vcgencmd" in r["clocks"]["reason"] and r["valid"] is None


def test_too_short_a_run_invalidates():
    r = judge(agent(64, seconds=0.4), min_seconds=1.0)
    assert r["valid"] is False and "0.4 s" in " ".join(r["invalid_reasons"])


def test_a_failed_parity_run_is_flagged_and_has_no_figures():
    r = judge(agent(64, ok=False, error="parity 4.4e+15 exceeds the bundle's tolerance 0.001"))
    assert r["valid"] is False and r["latency_ms"] is None and "parity" in " ".join(r["invalid_reasons"])
    assert r["failed_latency_ms"]["runs"] == 64


def test_result_schema_is_versioned_and_documented():
    from edgebuild import schema

    assert schema.PROFILE_RESULT_VERSION >= 3
    assert {"valid", "invalid_reasons", "clocks", "latency_ms", "baseline"} <= set(schema.PROFILE_RESULT_FIELDS)
