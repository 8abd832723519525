"""The points a new search tries before its sampler draws any, and the allocation it refines.

The space's own first points (space.first_points), and for a size search of a PyTorch model first of
all clustering with bits and rate weight per layer group chosen from each group's measured
sensitivity (compress/allocate.py). Which total drop to allocate is found by bisection on real
builds: a point inside the budget (by INSIDE of its slack) raises the total, any other lowers it. A
sampler that starts from nothing spends a MiniLM size search's hour far from any good point: a 58-minute run
(2026-11-30) built 15 points, 5 of them distilled students, and its best was 6.27x smaller where the
hand-tuned deep-compression recipe is 8.05x.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .. import bundle
from ..compress import allocate, space as spaces
from ..compress.measure import metric_of, torch_predict
from ..models import shapes
from ..progress import SILENT, Progress

INTERRUPTED = "interrupted"  # trial user attr: a killed search left it running (search.py marks it failed)
SHARE = "allocated_share"  # trial user attr: the share of the budget's slack its point was allocated at
TABLE = "sensitivity"  # study user attr: the profile, so that a resumed search refines on
# The first totals, as shares of the budget's slack (the metric's fp32 value minus the least it may
# reach): above 1 as well, because retraining the shared values wins some back (MiniLM,
# deep-compression's bits with the embeddings at rate weight 3: cosine 0.9664 -> 0.9721 with 500
# fine-tune steps, 2026-11-30).
LADDER = (1.0, 1.25)
STRETCH = 1.25  # the next share while every allocated point was within the budget (or every one outside)
RESOLUTION = 0.03  # bisection stops when the shares within and outside are this close
MOST = 4.0  # nor does it allocate past this share: by then every group sits at its smallest option
# The bisection counts a point as within the budget only this share of the slack inside it: a point at
# the budget's edge on the search half is outside it on held-out data about half the time. On MiniLM
# (slack 0.03) clustered builds scored 0.0016-0.0057 lower on held-out sentences than on the search
# half (2026-11-30 and 12-01), most of it one short held-out sentence ("Thank you so much!", cosine
# 0.84-0.89); the search half's own spread (standard error 0.0011-0.0015) does not foresee that.
INSIDE = 0.2


@dataclass(frozen=True)
class Allocation:
    table: dict[str, list[allocate.Option]]
    slack: float
    space: spaces.Space

    def point(self, share: float) -> dict[str, Any] | None:
        choice = allocate.allocate(self.table, self.slack * share)
        if choice is None:
            return None
        return spaces.clustered({label: (o.bits, o.rate_weight) for label, o in choice.items()}, self.space)

    def to_json(self) -> dict[str, list[list[float]]]:
        return {label: [[o.bits, o.rate_weight, o.bytes, o.drop] for o in options] for label, options in self.table.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[list[float]]], slack: float, space: spaces.Space) -> "Allocation":
        table = {label: [allocate.Option(int(b), r, int(n), d) for b, r, n, d in options] for label, options in data.items()}
        return cls(table, slack, space)

    def __call__(self, study, trial) -> None:
        """Optuna callback: after a trial, enqueue the next share's point (bisection) unless one waits."""
        self.advance(study, running=trial.number)

    def advance(self, study, running: int | None = None) -> None:
        from optuna.trial import TrialState

        allocated = [t for t in study.get_trials(deepcopy=False)
                     if SHARE in t.user_attrs and not t.user_attrs.get(INTERRUPTED)]  # a killed trial is no result
        if any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in allocated if t.number != running):
            return
        tried = {_cluster(t.params): _within(t, self.slack) for t in allocated if t.state.is_finished()}
        results = [(t.user_attrs[SHARE], _within(t, self.slack)) for t in allocated if t.state.is_finished()]
        share = next_share(results)
        while share is not None:
            params = self.point(share)
            if params is None or _cluster(params) in tried:  # no new point: it counts as that point's result
                results.append((share, params is not None and tried[_cluster(params)]))
                share = next_share(results)
                continue
            study.enqueue_trial(params, user_attrs={SHARE: share})
            return


def next_share(results: list[tuple[float, bool]]) -> float | None:
    """The share to allocate next from (share, within the budget) so far, or None when done."""
    within = max((s for s, ok in results if ok), default=None)
    outside = min((s for s, ok in results if not ok), default=None)
    if within is None and outside is None:
        return LADDER[0]
    if outside is None:
        return within * STRETCH if within * STRETCH <= MOST else None
    if within is None:
        return outside / STRETCH if outside / STRETCH > RESOLUTION else None
    return (within + outside) / 2 if outside - within > RESOLUTION else None


def _cluster(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, v) for k, v in params.items() if k.startswith("cluster")))


def inside(violation: float, slack: float) -> bool:
    """Whether a point whose budget violation (<= 0: within) is `violation` is inside the budget by INSIDE
    of its `slack`, as the bisection and the held-out walk count it."""
    return violation <= -INSIDE * slack


def _within(trial, slack: float) -> bool:
    from optuna.trial import TrialState

    return trial.state == TrialState.COMPLETE and inside(trial.user_attrs.get("constraint", [1.0])[0], slack)


def start(study, model, space: spaces.Space, slack: float, input_shapes: tuple[str, ...] = (),
          say: Callable[[str], None] = print, progress: Progress = SILENT) -> Allocation | None:
    """Enqueue a new study's first points; returns the allocation a size search refines (also for a
    resumed study, from the profile it stored), else None."""
    sized = space.objective != "latency" and space.torch_model
    if study.trials:
        data = study.user_attrs.get(TABLE)
        if not (sized and data):
            return None
        allocation = Allocation.from_json(data, slack, space)
        allocation.advance(study)  # the point a kill interrupted, or the next one, is tried first
        return allocation
    own = spaces.first_points(space)
    if not sized:
        for params in own:
            study.enqueue_trial(params)
        return None
    allocation = Allocation(profile(model, space, input_shapes, progress), slack, space)
    study.set_user_attr(TABLE, allocation.to_json())
    for share in LADDER:
        params = allocation.point(share)
        if params is not None:
            study.enqueue_trial(params, user_attrs={SHARE: share}, skip_if_exists=True)
            say(f"allocated at {share:g}x the slack ({slack * share:.4g}): {_describe(params)}")
    for params in own if space.objective == "both" else []:  # size alone: the allocation's trials first
        study.enqueue_trial(params)
    return allocation


def profile(model, space: spaces.Space, input_shapes: tuple[str, ...] = (),
            progress: Progress = SILENT) -> dict[str, list[allocate.Option]]:
    """Each layer group's sensitivity on the metric's search split (the held-out split is for the report)."""
    specs = shapes.resolve(model.name, model.inputs(), shapes.parse(input_shapes))

    def metric(module) -> float:
        return metric_of(model.metrics(torch_predict(module, specs), specs, "search"))[1]

    return allocate.profile(model.load(), space.cluster_groups, metric, lambda data: len(bundle.wire_encode(data)),
                            progress=progress)


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.removeprefix('cluster.')} {v}" for k, v in params.items() if k.startswith("cluster."))
