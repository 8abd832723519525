from edgebuild.flows.search import Budget


def test_budget_violation_is_signed_like_optunas_constraints():
    drop = Budget("accuracy", 1.0)
    assert drop.violation(98.8, 98.0) < 0 and drop.violation(98.8, 97.5) > 0
    cosine = Budget("cosine_to_fp32", 0.98)
    assert cosine.violation(1.0, 0.99) < 0 and cosine.violation(1.0, 0.97) > 0
    assert drop.gate() == {"max-accuracy-drop": 1.0} and cosine.gate() == {"min-cosine-to-fp32": 0.98}


def test_a_trial_left_running_by_a_kill_fails_and_does_not_count_toward_the_trials(tmp_path):
    import optuna

    from edgebuild.flows.search import _study, trials_done
    from edgebuild.flows.search_start import INTERRUPTED

    storage = f"sqlite:///{tmp_path / 'study.sqlite'}"
    first = optuna.create_study(study_name="s", storage=storage)
    first.tell(first.ask(), 1.0)  # complete
    first.tell(first.ask(), state=optuna.trial.TrialState.FAIL)  # a trial whose build failed counts
    first.ask()  # the killed process's trial, still "running"
    resumed = _study(storage, "s", "latency")
    states = [t.state.name for t in resumed.trials]
    assert states == ["COMPLETE", "FAIL", "FAIL"]
    assert resumed.trials[2].user_attrs == {INTERRUPTED: True}
    assert trials_done(resumed) == 2


def test_one_objective_verifies_the_best_point_of_each_family_until_one_holds_on_held_out_data(monkeypatch):
    from edgebuild.flows import search_result

    verdicts = {3: False, 7: True, 1: True, 9: True}  # trial -> within the budget and beyond the margin on held-out
    measured = []

    def holdout(point, measure, budget):
        measured.append(point["trial"])
        point["holdout"], point["better"] = {}, verdicts[point["trial"]]

    def point(trial, *steps):
        return {"trial": trial, "steps": [{"technique": t, **fields} for t, fields in steps]}

    monkeypatch.setattr(search_result, "_holdout", holdout)
    student = ("distill", {"width": 0.5})
    ranked = [point(3, student, ("prune-channels", {"ratio": 0.35}), ("int8-static", {})),
              point(5, student, ("prune-channels", {"ratio": 0.3})),  # the same retrained family as trial 3
              point(7, ("prune-channels", {"ratio": 0.55})),
              point(1, ("int8-static", {})), point(9, ("int8-dynamic", {}))]  # graph steps only: each its own
    points = search_result._first_verified(ranked, None, None)
    assert measured == [3, 7]  # stops at the first point that holds
    assert [p["better"] for p in points] == [False, True]
    verdicts.update({7: False, 1: False})
    measured.clear()
    points = search_result._first_verified(ranked, None, None)
    assert measured == [3, 7, 1] and not any(p["better"] for p in points)  # at most HOLDOUT_CANDIDATES
    # a size search checks the next smallest point whatever its family: bytes do not depend on the data
    verdicts.update({5: True})
    for p in ranked:
        p["bundle"] = f"b{p['trial']}"
    measured.clear()
    points = search_result._first_verified(ranked, None, None, by_family=False)
    assert measured == [3, 5] and points[-1]["better"]


def test_the_proxy_prunes_only_far_outside_the_budget():
    import optuna
    import pytest

    from edgebuild.flows.search import PROXY_SLACK, _proxy

    class Trial:
        def __init__(self):
            self.user_attrs, self.constraints = {}, {}

        def set_user_attr(self, key, value):
            self.user_attrs[key] = value

        def set_constraint(self, key, value):
            self.constraints[key] = value

    budget = Budget("accuracy", 1.0)
    rows = [{"technique": "distill", "before": 99.0, "after": 99.0 - 1.0 - PROXY_SLACK["accuracy"] + 0.1}]  # outside, within the slack
    _proxy(rows, budget, Trial())
    rows.append({"technique": "prune", "before": rows[0]["after"], "after": 99.0 - 1.0 - PROXY_SLACK["accuracy"] - 0.1})
    trial = Trial()
    with pytest.raises(optuna.TrialPruned, match="after prune is far outside"):
        _proxy(rows, budget, trial)  # judged against the first row's reference, on the latest step
    assert trial.constraints["budget"] > 0  # infeasible to the sampler, not merely unfinished


def test_held_out_data_is_judged_against_the_reference_on_all_the_data(monkeypatch):
    """The budget's baseline is the uncompressed build's metric on both splits (as the written recipe's gate
    measures it), not its metric on the held-out split alone, whose sampling noise moved the budget."""
    from pathlib import Path

    from edgebuild import bundle
    from edgebuild.flows import search_result
    from edgebuild.flows.search import Budget

    class Measure:
        reference = Path("reference")
        reference_metric = ("accuracy", 99.4)
        request = type("R", (), {"objective": "size"})()

        def metric(self, result, split):  # the reference got every held-out image right; the point lost 1.0
            return "accuracy", 100.0 if result.bundle == self.reference else 98.6

    monkeypatch.setattr(bundle, "read_manifest", lambda folder: {"metrics": {"transfer_bytes": 100}})
    point = {"bundle": "point", "transfer_bytes": 50}
    search_result._holdout(point, Measure(), Budget("accuracy", 1.0))
    assert point["holdout"]["reference_metric"] == 99.4
    assert point["holdout"]["within_budget"] and point["better"]
    point = {"bundle": "point", "transfer_bytes": 50}
    search_result._holdout(point, Measure(), Budget("accuracy", 0.5))
    assert not point["holdout"]["within_budget"] and not point["better"]


def test_the_metric_on_all_the_data_is_the_one_the_build_measured_for_its_gate(monkeypatch):
    """The reference and shipped recipes are scored on all the data: that is the manifest's own metric,
    not run again (the held-out split is still run)."""
    from pathlib import Path

    import pytest

    from edgebuild.flows import search_measure
    from edgebuild.flows.build import BuildResult

    measure = search_measure.Measure(None, type("R", (), {"model": "digits-cnn"})(), None, Path("r"), ("", 0.0))
    result = BuildResult(Path("b"), {"metrics": {"accuracy": 97.8, "transfer_bytes": 1}, "inputs": []}, cached=True)
    monkeypatch.setattr(search_measure.models, "resolve", lambda *a: (_ for _ in ()).throw(AssertionError("ran")))
    assert measure.metric(result, search_measure.REFERENCE_SPLIT) == ("accuracy", 97.8)
    with pytest.raises(AssertionError, match="ran"):
        measure.metric(result, "holdout")


def test_re_timing_rotates_the_order_and_takes_the_median_of_each_rounds_ratios(monkeypatch):
    from pathlib import Path

    from edgebuild.flows import search_measure

    measure = search_measure.Measure(None, type("R", (), {"device": ""})(), None, Path("r"), ("", 0.0))
    orders = []
    # Round by round, each bundle's time; the second round's process put every bundle 50% slower, and the
    # third landed "b" badly (1.3): the median of ratios keeps b at 0.5x the reference.
    times = iter([{"r": 2.0, "a": 1.0, "b": 1.0}, {"r": 3.0, "a": 1.5, "b": 1.5}, {"r": 2.0, "a": 1.2, "b": 1.3}])

    def side_by_side(folders, runs):
        orders.append([f.name for f in folders])
        ms = next(times)
        return [ms[f.name] for f in folders]

    monkeypatch.setattr(measure, "_side_by_side", side_by_side)
    medians, ratios = measure.latency([Path("r"), Path("a"), Path("b")], 10, rounds=3)
    assert orders == [["r", "a", "b"], ["a", "b", "r"], ["b", "r", "a"]]
    assert medians == [2.0, 1.2, 1.3]
    assert ratios == [1.0, 0.5, 0.5]


def test_the_fastest_points_are_re_timed_together_and_ranked_by_that(monkeypatch):
    from pathlib import Path

    from edgebuild.flows import search_result

    monkeypatch.setattr(search_result, "SHORTLIST", 3)
    timed = []

    class Measure:
        reference = Path("ref")

        def latency(self, folders, runs, rounds):
            timed.append([f.name for f in folders])
            again = {"ref": 1.0, "lucky": 0.6, "steady": 0.45, "slow": 0.5}  # re-timed ratios
            return [], [again[f.name] for f in folders]

    ranked = [{"trial": 4, "bundle": "lucky"}, {"trial": 9, "bundle": "lucky"},  # one point, drawn twice
              {"trial": 2, "bundle": "steady"}, {"trial": 7, "bundle": "slow"}, {"trial": 5, "bundle": "last"}]
    out = search_result._retimed(ranked, Measure(), print)
    assert timed == [["ref", "lucky", "steady", "slow"]]  # each bundle once, beside the reference
    assert [p["trial"] for p in out] == [2, 7, 4, 9, 5]  # the re-timed head, then the rest in their order
    assert [p.get("retimed_ratio") for p in out] == [0.45, 0.5, 0.6, None, None]


def test_the_report_says_when_a_point_was_not_timed():
    from edgebuild.flows import search_result

    point = {"trial": 9, "steps": [{"technique": "cluster"}], "metric": 0.975, "latency_ratio": 0.0,
             "latency_ms": None, "transfer_bytes": 13157800, "holdout": {}, "better": True}
    report = {"study": "s", "trials": {}, "reference": {}, "front": [point], "recipes": []}
    text = search_result.format_report(report)
    assert "latency not timed, 13,157,800 B" in text and "x0.0" not in text
    timed = search_result.format_report({**report, "front": [{**point, "latency_ms": 0.015, "latency_ratio": 0.59}]})
    assert "x0.59, 13,157,800 B" in timed


def test_a_size_search_checks_the_points_inside_its_budget_by_a_share_of_the_slack_first():
    from edgebuild.flows import search, search_result, search_start

    budget = search.Budget("cosine_to_fp32", 0.97)
    edge = 0.97 + search_start.INSIDE * 0.03
    ranked = [{"trial": 1, "metric": 0.9716}, {"trial": 3, "metric": edge + 0.001}, {"trial": 4, "metric": 0.9705},
              {"trial": 2, "metric": edge + 0.002}]  # smallest first
    assert [p["trial"] for p in search_result.inside_first(ranked, budget, 1.0)] == [3, 2, 1, 4]
    accuracy = search.Budget("accuracy", 1.0)  # a drop of 0.95 is inside by less than INSIDE of the 1-point slack
    assert [p["trial"] for p in search_result.inside_first(
        [{"trial": 1, "metric": 98.45}, {"trial": 2, "metric": 98.7}], accuracy, 99.4)] == [2, 1]
