"""The recipe-search part of the report: the front (min on the study's objectives) and its section."""

import itertools
import random
import re

from edgebuild import history, report
from edgebuild.report import pareto
from edgebuild.report.regress import Settings


def brute_front(rows, keys):
    def beats(b, a):
        return all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)

    return {tuple(r[k] for k in keys) for r in rows if not any(beats(b, r) for b in rows)}


def test_minimal_matches_a_brute_force_pareto_front():
    rng = random.Random(0)
    rows = [{"trial": i, "latency_ratio": rng.choice([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
             "transfer_bytes": rng.randrange(1000, 10000, 500)} for i in range(60)]
    keys = ("latency_ratio", "transfer_bytes")
    got = pareto.minimal(rows, keys)
    assert {tuple(r[k] for k in keys) for r in got} == brute_front(rows, keys)
    assert [r["latency_ratio"] for r in got] == sorted(r["latency_ratio"] for r in got)
    assert all(b["transfer_bytes"] < a["transfer_bytes"] for a, b in itertools.pairwise(got))


def test_minimal_of_one_objective_is_the_best_point_and_keeps_the_earliest_tie():
    rows = [{"trial": 0, "latency_ratio": 0.8}, {"trial": 1, "latency_ratio": 0.7}, {"trial": 2, "latency_ratio": 0.7}]
    assert [r["trial"] for r in pareto.minimal(rows, ("latency_ratio",))] == [1]


def _row(trial, ratio, size, accuracy, constraint, split="search", **extra):
    # fixtures, not measurements: every figure is chosen here
    return history.from_search({
        "time": f"2026-11-29T05:{trial:02d}:00Z", "model": "digits-cnn", "target": "host", "study": "s1",
        "objective": "both", "budget": 1.0, "metric_name": "accuracy", "trial": trial, "split": split,
        "recipe": f"p-{trial}", "steps": [{"technique": "int8-static", "operators": ["Conv"]}],
        "latency_ratio": ratio, "latency_ms": ratio * 0.01, "transfer_bytes": size, "so_bytes": size * 2,
        "metric": accuracy, "constraint": constraint, **extra})


def test_the_report_shows_each_studys_front_from_its_search_rows():
    runs = [_row(0, 1.0, 9000, 98.8, -1.0), _row(1, 0.6, 8000, 98.5, -0.7), _row(2, 0.5, 7000, 90.0, 7.8),
            _row(3, 0.8, 5000, 98.0, -0.2), _row(4, 0.9, 8500, 98.6, -0.8),
            _row(1, 0.62, 8000, 98.4, None, split="holdout", reference_metric=98.9, better=True)]
    page = report.render(runs, Settings(), "test", "2026-11-29T06:00:00Z", "")
    table = re.search(r'<table class="search-front">.*?</table>', page).group(0)
    # trial 2 is out of budget and trials 0 and 4 are beaten on both objectives: the front is 1 and 3
    assert re.findall(r'data-trial="(\d+)"', table) == ["1", "3"]
    assert "98.4 (98.9)" in table and ">yes<" in table
    assert page.count('data-plot="search-front"') == 2  # metric vs latency, size vs latency
    rings = re.findall(r'class="pareto-marker" data-x="([\d.]+)"', page)
    assert sorted(set(rings)) == ["0.6", "0.8"]
    assert 'data-plot="latency-time"' not in page and "<table class=\"runs\"" not in page
