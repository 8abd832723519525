"""The report's pieces without a browser: regressions against a pooled baseline, the front, the size bound."""

from edgebuild import history, report
from edgebuild.report import pareto
from edgebuild.report.regress import Settings, verdicts

from . import seed


def _series(p50s, device="pi-1"):
    return [history.from_profile({"device": device, "bundle_sha256": "x", "time": f"2026-11-28T10:{i:02d}:00Z",
                                  "latency_ms": {"p50": v}}) for i, v in enumerate(p50s)]


def test_a_regression_needs_k_mads_and_the_floor_over_the_pooled_median():
    runs = _series([2.00, 2.02, 1.98, 2.01, 1.99, 2.40, 2.03])
    got = verdicts(runs, Settings())
    assert [got[r.uid].baseline_runs for r in runs] == [0, 1, 2, 3, 4, 5, 5]
    assert [got[r.uid].flagged for r in runs] == [False] * 5 + [True, False]
    last = got[runs[5].uid]
    assert (last.median, round(last.mad, 6), round(last.change, 6)) == (2.0, 0.01, 0.2)
    # 3.5% worse: beyond 3 MADs (0.03) but under the 5% floor; flagged only once the floor is lowered
    small = _series([2.00, 2.02, 1.98, 2.01, 1.99, 2.07])
    assert not verdicts(small, Settings())[small[-1].uid].flagged
    assert verdicts(small, Settings(floor=0.01))[small[-1].uid].flagged
    # a noisy baseline (MAD 0.2) absorbs a 10% rise that a quiet one would flag
    noisy = _series([2.0, 2.4, 1.6, 2.2, 1.8, 2.2])
    assert not verdicts(noisy, Settings())[noisy[-1].uid].flagged


def test_the_front_keeps_only_undominated_points():
    points = [(2.0, 99.4), (1.25, 99.2), (1.5, 98.0), (1.8, 97.0), (1.25, 99.2)]
    assert pareto.front(points, lambda p: p[0], lambda p: p[1]) == [(2.0, 99.4), (1.25, 99.2), (1.25, 99.2)]


def test_a_thousand_runs_make_a_page_under_one_megabyte():
    page = report.render(seed.many(1000), Settings(), "test", "2026-11-29T00:00:00Z", "")
    size = len(page.encode())
    assert 20_000 < size <= 1_000_000, size
    assert page.count('data-plot="latency-time"') == 4
