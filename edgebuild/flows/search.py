"""`invoke search`: the fastest or smallest build of a model for a target within an accuracy budget.

Optuna drives it (TPE for one objective, NSGA-II for latency and size together); every trial is a
real build of a point of the search space (compress/space.py) written as a recipe file. Trials are
scored on the metric's search split; the budget is a constraint, so infeasible points still teach
the sampler. A trial whose PyTorch-side metric already misses the budget by a wide margin is pruned
before its export and compile (the cheap proxy). Latency is a ratio to the uncompressed build
timed side by side (search_measure.py). The study lives in results/ (SQLite), so a killed search
resumes where it stopped; the chosen point is re-measured on the held-out split
(search_result.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import bundle, history, models, targets
from ..compress import space as spaces
from ..errors import EdgebuildError, UsageError
from ..progress import SILENT, Progress
from ..project import Project
from . import history as results_history, search_measure, search_result, search_start
from .build import BuildRequest, build

OBJECTIVES = ("latency", "size", "both")
# A trial whose PyTorch-side metric misses the budget by more than this is not compiled.
PROXY_SLACK = {"accuracy": 2.0, "cosine_to_fp32": 0.02}


@dataclass(frozen=True)
class SearchRequest:
    model: str
    target: str = "host"
    device: str = ""
    max_accuracy_drop: float | None = None
    min_cosine: float | None = None
    objective: str = "latency"
    trials: int = 0
    minutes: float = 0.0
    name: str = ""
    pick: int | None = None
    force: bool = False
    runs: int = 40  # timed samples per bundle and trial
    against_shipped: bool = False  # also time the best point beside every recipe of recipes/ (search_compare.py)
    input_shapes: tuple[str, ...] = ()  # NAME:D1,D2,... as for build
    calibration: str | None = None  # int8 calibration samples (FILE.npz or "random"); ONNX files need it for static int8

    def build_request(self, recipe: str, out: Path | None = None) -> BuildRequest:
        return BuildRequest(model=self.model, recipe=recipe, target=self.target, input_shapes=self.input_shapes,
                            out=out, calibration=self.calibration)


@dataclass(frozen=True)
class Budget:
    metric: str  # "accuracy" or "cosine_to_fp32"
    limit: float  # points of accuracy drop, or the lowest cosine

    def violation(self, reference: float, value: float) -> float:
        """<= 0 when `value` is within the budget (Optuna's constraint convention)."""
        if self.metric == "accuracy":
            return (reference - value) - self.limit
        return self.limit - value

    def gate(self) -> dict[str, float]:
        return {"max-accuracy-drop": self.limit} if self.metric == "accuracy" else {"min-cosine-to-fp32": self.limit}


def search(project: Project, request: SearchRequest, say: Callable[[str], None] = print,
           progress: Progress = SILENT) -> dict[str, Any]:
    import optuna

    started = time.monotonic()
    _check(request)
    target = targets.load(project, request.target)
    model = models.resolve(request.model, project)
    measure = search_measure.Measure.open(project, request, target, say)
    budget = _budget(request, measure.reference_metric[0])
    space = spaces.Space.of(model, target, request.objective, calibrated=bool(request.calibration))
    study_name = request.name or _study_name(request, model.name)
    folder = project.cache_dir / "search" / study_name
    folder.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(search_result.storage_url(project, say), study_name, request.objective)
    slack = -budget.violation(measure.reference_metric[1], measure.reference_metric[1])
    allocation = search_start.start(study, model, space, slack, request.input_shapes, say, progress)
    done = trials_done(study)
    remaining = max(0, request.trials - done) if request.trials else None
    say(f"search {study_name}: {done} trials done so far; objective {request.objective}, "
        f"{budget.metric} budget {budget.limit}; reference (none): {measure.describe_reference()}")

    def objective(trial):
        steps = spaces.sample(space, trial)
        trial.set_user_attr("steps", steps)
        recipe = _write_trial_recipe(folder, steps)
        say(f"trial {trial.number}: {_describe(steps)}")
        out = folder / "bundles" / recipe.stem
        try:
            result = build(project, request.build_request(str(recipe), out), say=lambda s: None, progress=progress,
                           check_steps=lambda rows: _proxy(rows, budget, trial))
        except optuna.TrialPruned as pruned:
            shown.advance()
            say(f"  pruned: {pruned}")
            raise
        scores = measure.trial(result, trial)
        violation = budget.violation(measure.reference_metric[1], scores["metric"])
        trial.set_user_attr("constraint", [violation])
        trial.set_constraint("budget", violation)  # feasible when <= 0: both samplers prefer such points
        record(project, {**scores, "split": "search", "study": study_name, "trial": trial.number, "steps": steps,
                         "recipe": recipe.stem, "bundle_sha256": bundle.manifest_sha256(result.bundle),
                         "metric_name": budget.metric, "constraint": violation}, request, measure, say)
        shown.advance()
        say(f"  {budget.metric} {scores['metric']} ({'within' if violation <= 0 else 'outside'} budget), "
            f"latency x{scores.get('latency_ratio', '-')}, transfer {scores['transfer_bytes']:,} B")
        return _values(request.objective, scores)

    if remaining != 0:
        with progress.task(f"search {study_name}", total=remaining, unit="trials") as shown:
            # --minutes counts from the start: the sensitivity profile of a size search's first points too
            timeout = max(1.0, request.minutes * 60 - (time.monotonic() - started)) if request.minutes else None
            study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(EdgebuildError,),
                           gc_after_trial=True, callbacks=[allocation] if allocation else None)
    report = search_result.finish(project, request, study, budget, measure, model.name, say)
    report["seconds"] = round(time.monotonic() - started, 1)
    for point in report["front"]:
        record(project, {**point, **point["holdout"], "split": "holdout", "study": study_name,
                         "recipe": Path(point["bundle"]).name, "metric_name": budget.metric}, request, measure, say)
    return report


def record(project: Project, point: dict[str, Any], request: SearchRequest, measure, say) -> None:
    """One search row in the results history (a trial on the search split, or a held-out re-measure)."""
    row = {**point, "time": history.utc(), "model": request.model, "target": request.target,
           "objective": request.objective, "budget": request.max_accuracy_drop if request.max_accuracy_drop is not None
           else request.min_cosine,
           "device": request.device or None, "emulated": measure.emulated}
    results_history.record(project, [history.from_search(row, history.here())], say)


def _check(request: SearchRequest) -> None:
    if request.objective not in OBJECTIVES:
        raise UsageError(f"--objective={request.objective}: use one of {', '.join(OBJECTIVES)}")
    if (request.trials > 0) == (request.minutes > 0):
        raise UsageError("give exactly one budget: --trials=N or --minutes=N")
    if (request.max_accuracy_drop is None) == (request.min_cosine is None):
        raise UsageError("give exactly one quality budget: --max-accuracy-drop=POINTS (classifiers) or "
                         "--min-cosine=C (embedders, ONNX files)")
    if request.pick is not None and request.objective != "both":
        raise UsageError("--pick chooses one point of a two-objective front; use it with --objective=both")


def _budget(request: SearchRequest, metric: str) -> Budget:
    if request.max_accuracy_drop is not None:
        if metric != "accuracy":
            raise UsageError(f"--max-accuracy-drop: model {request.model!r} is scored by {metric}; use --min-cosine")
        if not 0 <= request.max_accuracy_drop <= 100:
            raise UsageError("--max-accuracy-drop: points of accuracy, 0 to 100")
        return Budget("accuracy", request.max_accuracy_drop)
    if metric != "cosine_to_fp32":
        raise UsageError(f"--min-cosine: model {request.model!r} is scored by {metric}; use --max-accuracy-drop")
    if not -1 <= request.min_cosine <= 1:
        raise UsageError("--min-cosine: a cosine, -1 to 1")
    return Budget("cosine_to_fp32", request.min_cosine)


def _study_name(request: SearchRequest, model: str) -> str:
    limit = request.max_accuracy_drop if request.max_accuracy_drop is not None else request.min_cosine
    where = request.device or request.target
    return f"{model}-{where}-{request.objective}-{'drop' if request.max_accuracy_drop is not None else 'cos'}{limit:g}"


def _study(storage: str, name: str, objective: str):
    import optuna
    from optuna.trial import TrialState

    probe = optuna.load_study(study_name=name, storage=storage) if _exists(storage, name) else None
    seed = len(probe.trials) if probe else 0  # a resumed search draws new points, not the first run's again
    if objective == "both":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
        directions = ["minimize", "minimize"]
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
        directions = ["minimize"]
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, directions=directions,
                                load_if_exists=True)
    for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # A killed search leaves its last trial "running"; it is failed, and its point may be drawn again.
        # Marked, so that it does not count toward --trials (a trial whose build failed does).
        study._storage.set_trial_user_attr(stale._trial_id, search_start.INTERRUPTED, True)
        study._storage.set_trial_state_values(stale._trial_id, TrialState.FAIL)
    return study


def trials_done(study) -> int:
    """Trials that count toward --trials: finished ones, but not those a kill interrupted."""
    return sum(1 for t in study.trials if t.state.is_finished() and not t.user_attrs.get(search_start.INTERRUPTED))


def _exists(storage: str, name: str) -> bool:
    import optuna

    return any(s.study_name == name for s in optuna.get_all_study_summaries(storage))


def _proxy(rows: list[dict[str, Any]], budget: Budget, trial) -> None:
    """Prune when the PyTorch-side metric after a step is far outside the budget: later steps compress
    further and rarely win that much back, so a weak student is not also pruned, fine-tuned and compiled."""
    import optuna

    if not rows or rows[-1].get("after") is None or rows[0].get("before") is None:
        return
    value, reference = rows[-1]["after"], rows[0]["before"]
    trial.set_user_attr("proxy_metric", value)
    violation = budget.violation(reference, value)
    if violation > PROXY_SLACK[budget.metric]:
        # Marked infeasible: Optuna's TPE ranks a pruned trial without a constraint ahead of every
        # infeasible one, among its "good" trials whenever fewer feasible ones than it keeps there.
        trial.set_constraint("budget", violation)
        raise optuna.TrialPruned(f"PyTorch-side {budget.metric} {value} after {rows[-1]['technique']} is far "
                                 "outside the budget")


def _values(objective: str, scores: dict[str, Any]) -> tuple[float, ...] | float:
    if objective == "latency":
        return scores["latency_ratio"]
    if objective == "size":
        return float(scores["transfer_bytes"])
    return scores["latency_ratio"], float(scores["transfer_bytes"])


def _write_trial_recipe(folder: Path, steps: list[dict[str, Any]]) -> Path:
    """The point as a recipe file named by its content, so the same point reuses its built bundle."""
    import tomli_w

    text = tomli_w.dumps({"description": "recipe search trial", "steps": steps})
    path = folder / "recipes" / f"p-{hashlib.sha256(text.encode()).hexdigest()[:12]}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # written whole or not at all: a killed search must not leave half a recipe
        tmp = path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def _describe(steps: list[dict[str, Any]]) -> str:
    if not steps:
        return "no compression"
    return "; ".join(step["technique"] + " " + json.dumps({k: v for k, v in step.items() if k != "technique"},
                                                         separators=(",", ":")) for step in steps)



