import itertools
import random

from edgebuild.flows.search import Budget
from edgebuild.flows.search_result import front


def brute_front(rows, keys):
    def beats(b, a):
        return all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)

    return {tuple(r[k] for k in keys) for r in rows if not any(beats(b, r) for b in rows)}


def test_front_matches_a_brute_force_pareto_front():
    rng = random.Random(0)
    rows = [{"trial": i, "latency_ratio": rng.choice([0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
             "transfer_bytes": rng.randrange(1000, 10000, 500)} for i in range(60)]
    keys = ("latency_ratio", "transfer_bytes")
    got = front(rows, keys)
    assert {tuple(r[k] for k in keys) for r in got} == brute_front(rows, keys)
    assert [r["latency_ratio"] for r in got] == sorted(r["latency_ratio"] for r in got)
    assert all(b["transfer_bytes"] < a["transfer_bytes"] for a, b in itertools.pairwise(got))


def test_front_of_one_objective_is_the_best_point_and_keeps_the_earliest_tie():
    rows = [{"trial": 0, "latency_ratio": 0.8}, {"trial": 1, "latency_ratio": 0.7}, {"trial": 2, "latency_ratio": 0.7}]
    assert [r["trial"] for r in front(rows, ("latency_ratio",))] == [1]


def test_budget_violation_is_signed_like_optunas_constraints():
    drop = Budget("accuracy", 1.0)
    assert drop.violation(98.8, 98.0) < 0 and drop.violation(98.8, 97.5) > 0
    cosine = Budget("cosine_to_fp32", 0.98)
    assert cosine.violation(1.0, 0.99) < 0 and cosine.violation(1.0, 0.97) > 0
    assert drop.gate() == {"max-accuracy-drop": 1.0} and cosine.gate() == {"min-cosine-to-fp32": 0.98}
