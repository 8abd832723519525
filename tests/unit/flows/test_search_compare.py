"""The --against-shipped verdict: a best point that misses the budget on held-out data beats nothing."""

from pathlib import Path

from edgebuild.flows import search_compare
from edgebuild.flows.search import Budget


class Measure:
    """Held-out metrics and side-by-side medians as a search's Measure returns them (the fake of one module)."""

    reference = Path("reference")
    reference_metric = ("accuracy", 99.4)  # on all the data: the budget's baseline

    def metric(self, result, split):  # a shipped recipe is scored on all the data, as the reference is
        return "accuracy", 98.5 if split == "all" else 97.0

    def latency(self, folders, runs, rounds):
        ms = [1.0] + [2.0] * (len(folders) - 1)  # the best point twice as fast as every recipe
        return ms, [m / ms[0] for m in ms]


class Request:
    objective = "latency"

    def build_request(self, name):
        return name


def compare(monkeypatch, within: bool) -> dict:
    from edgebuild.flows.build import BuildResult

    monkeypatch.setattr(search_compare.compress, "folder", lambda project: type("F", (), {"names": lambda self: ["none", "r"]})())
    monkeypatch.setattr(search_compare, "build", lambda project, name, say: BuildResult(Path(name), {"metrics": {"transfer_bytes": 10}}, cached=True))
    best = {"bundle": "best", "transfer_bytes": 5, "holdout": {"within_budget": within}}
    return search_compare.against_shipped(None, Request(), Measure(), Budget("accuracy", 1.0), best, 0.05, 3, print)


def test_a_best_point_outside_the_budget_on_held_out_data_beats_no_shipped_recipe(monkeypatch):
    held = compare(monkeypatch, within=True)
    assert held["beats_all"] and held["recipes"][0]["beaten"]
    # the recipe's 98.5 on all the data is judged against the reference's 99.4 there, as its gate is
    assert held["recipes"][0]["within_budget"] and held["reference_metric"] == 99.4
    assert search_compare.format_comparison(held)[-1] == "the best point beats every shipped recipe within the budget"
    missed = compare(monkeypatch, within=False)
    assert not missed["beats_all"]
    assert "misses the budget on held-out data" in search_compare.format_comparison(missed)[-1]
