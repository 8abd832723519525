import dataclasses

import numpy as np
import optuna

from edgebuild.compress import allocate, recipe, space as spaces
from edgebuild.compress.measure import torch_predict
from edgebuild.flows import search_start
from edgebuild.models.base import TensorSpec
from tests.unit.compress.test_allocate import Net


class Tiny:
    """A model as the search sees one: inputs, a loader and a cosine metric on a split (a unit-test
    stand-in for the Model interface; real models are searched in tests/integration)."""

    name = "tiny"

    def __init__(self):
        self.splits = []
        self.x = {"x": np.arange(64)}
        self.want = torch_predict(Net().eval(), self.inputs())(self.x)[0].ravel()

    def inputs(self):
        return [TensorSpec("x", (64,), "int64")]

    def load(self):
        return Net().eval()

    def metrics(self, predict, specs, split="all"):
        self.splits.append(split)
        got = predict(self.x)[0].ravel()
        return {"cosine_to_fp32": float(got @ self.want / (np.linalg.norm(got) * np.linalg.norm(self.want)))}


SPACE = spaces.Space(torch_model=True, trainable=False, fp16_arithmetic=False, groups=(("ffn", "up", r"up/"),),
                     objective="size", calibrated=False)


def test_a_new_size_search_first_tries_allocated_points_then_the_spaces_own_and_a_resumed_one_refines_on():
    model, said = Tiny(), []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    allocation = search_start.start(study, model, SPACE, slack=0.01, say=said.append)
    assert set(model.splits) == {"search"}  # chosen on the search split; the held-out split is for the report
    waiting = study.trials
    shares = [t.user_attrs.get(search_start.SHARE) for t in waiting]
    assert shares[:len(said)] == list(search_start.LADDER)[:len(said)] and len(said) >= 1
    assert len(waiting) == len(said)  # size alone: no int8 or uniform 6-bit points before the allocation's
    both = optuna.create_study(directions=["minimize", "minimize"])
    search_start.start(both, Tiny(), dataclasses.replace(SPACE, objective="both"), slack=0.01)
    own = spaces.first_points(SPACE)  # int8 for the latency side
    assert len(both.trials) == len(said) + len(own) and own
    for t in waiting[:len(said)]:
        steps = spaces.sample(SPACE, study.ask())
        recipe.configs(steps, "steps")
        assert [s["technique"] for s in steps] == ["cluster", "codebook"]
    resumed = search_start.start(study, Tiny(), SPACE, slack=0.01)
    assert resumed.table == allocation.table  # from the study, not profiled again
    latency = spaces.Space(torch_model=True, trainable=False, fp16_arithmetic=False, objective="latency")
    fresh = optuna.create_study()
    assert search_start.start(fresh, model, latency, slack=0.01) is None
    assert len(fresh.trials) == len(spaces.first_points(latency)) and not fresh.user_attrs  # nothing profiled


def test_the_share_is_bisected_between_the_largest_within_and_the_smallest_outside():
    nxt = search_start.next_share
    assert nxt([]) == search_start.LADDER[0]
    assert nxt([(1.0, True)]) == 1.0 * search_start.STRETCH  # everything within: allocate more
    assert nxt([(1.0, False)]) == 1.0 / search_start.STRETCH
    assert nxt([(1.0, True), (1.25, False)]) == 1.125
    assert nxt([(1.0, True), (1.02, False)]) is None  # close enough
    assert nxt([(4.0, True)]) is None  # past MOST every group is at its smallest anyway


def test_the_callback_enqueues_the_next_allocation_and_never_a_point_already_built():
    opt = lambda bits, drop, size: allocate.Option(bits, 1.0, size, drop)  # noqa: E731
    table = {"rest": [opt(8, 0.0, 1000), opt(6, 0.004, 700), opt(4, 0.009, 500), opt(3, 0.02, 300)]}
    allocation = search_start.Allocation(table, 0.01, SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(allocation.point(1.0), user_attrs={search_start.SHARE: 1.0})

    def built(trial):  # within the budget up to 6 bits
        bits = next((s["bits"] for s in spaces.sample(SPACE, trial) if s["technique"] == "cluster"), 0)
        trial.set_user_attr("constraint", [-1.0 if bits >= 6 else 1.0])
        return float(bits)

    study.optimize(built, n_trials=6, callbacks=[allocation])
    allocated = [t for t in study.trials if search_start.SHARE in t.user_attrs]
    bits = [spaces.sample(SPACE, optuna.trial.FixedTrial(t.params))[0]["bits"] for t in allocated]
    assert bits[0] == 4 and len(set(bits)) == len(bits)  # 1.0x allocates 4 bits (outside); no point twice
    assert 6 in bits  # the bisection comes down to the smallest point within


def test_the_bisection_counts_a_point_within_only_by_a_share_of_the_slack_inside_the_budget():
    from optuna.trial import TrialState, create_trial

    def built(violation):
        return create_trial(state=TrialState.COMPLETE, value=1.0, user_attrs={"constraint": [violation]})

    edge = -0.5 * search_start.INSIDE * 0.03  # within the budget, but closer to it than the share
    assert not search_start._within(built(edge), 0.03)
    assert search_start._within(built(2 * -search_start.INSIDE * 0.03), 0.03)
    assert not search_start._within(create_trial(state=TrialState.PRUNED, user_attrs={"constraint": [-1.0]}), 0.0)


def test_a_resumed_search_tries_again_the_allocated_point_a_kill_interrupted():
    from optuna.trial import TrialState

    opt = lambda bits, drop, size: allocate.Option(bits, 1.0, size, drop)  # noqa: E731
    allocation = search_start.Allocation({"rest": [opt(8, 0.0, 1000), opt(4, 0.009, 500)]}, 0.01, SPACE)
    study = optuna.create_study()
    study.set_user_attr(search_start.TABLE, allocation.to_json())
    study.enqueue_trial(allocation.point(1.0), user_attrs={search_start.SHARE: 1.0})
    killed = study.ask()
    spaces.sample(SPACE, killed)
    killed.set_user_attr(search_start.INTERRUPTED, True)  # as search._study marks a trial a kill left running
    study.tell(killed, state=TrialState.FAIL)
    assert search_start.start(study, None, SPACE, slack=0.01) is not None  # no profile: it is in the study
    waiting = [t for t in study.trials if t.state == TrialState.WAITING]
    assert [t.user_attrs[search_start.SHARE] for t in waiting] == [1.0]
