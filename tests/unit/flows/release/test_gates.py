from edgebuild.flows.release import gates
from edgebuild.flows.release.plan import Thresholds


def manifest(accuracy, transfer):
    return {"metrics": {"accuracy": accuracy, "transfer_bytes": transfer}}


def pair(new_ms, old_ms, new_mem=100, old_mem=100):
    side = lambda ms, mem: {"latency_ms": {"p50": ms}, "memory_bytes": mem, "ok": True,  # noqa: E731
                            "parity_max_abs_diff": 0.0, "parity_tolerance": 1e-3}
    return {"device": "pi-1", "emulated": False, "bundles": {"new": side(new_ms, new_mem), "previous": side(old_ms, old_mem)}}


def test_passes_within_thresholds():
    checks = gates.evaluate("m:r:t", manifest(99.0, 1000), manifest(99.2, 990), [pair(1.05, 1.0)], Thresholds())
    assert [c.check for c in checks] == ["accuracy drop", "size ratio (transfer bytes)",
                                         "latency ratio of medians @pi-1", "memory ratio @pi-1"]
    assert all(c.passed for c in checks)


def test_each_threshold_refuses():
    checks = gates.evaluate("m:r:t", manifest(98.0, 2000), manifest(99.0, 1000), [pair(2.0, 1.0, 300, 100)],
                            Thresholds())
    assert [c.passed for c in checks] == [False, False, False, False]
    table = gates.table(checks)
    assert table.count("REGRESSION") == 4 and "2" in table.splitlines()[3]
