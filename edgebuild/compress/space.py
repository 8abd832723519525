"""The recipe search space: which techniques and fields a search may combine, and their ranges.

A point of the space is an ordinary list of recipe steps (PyTorch steps first, then graph steps, as
every recipe orders them), so a chosen point is written out as a normal recipe. Parameters are
drawn through a `Suggest` object (an Optuna trial fits), so this module knows no optimizer.

Ranges (each parameter may also be "off"):
- distill: the model's own student shapes (Model.distill_students), e.g. half width, trained 1x, 2x or
  4x distill's default steps (600 for CNN students, 300 for transformers); needs training data
- prune-channels: ratio 0.1-0.6 (step 0.05), channel-multiple 8 or 16
- lowrank: params-budget 0.3-0.9 (step 0.1), convs factored by channel SVD or Tucker-2
- prune (unstructured): sparsity 0.1-0.9 (step 0.1); matmuls >= 75% sparse run the CSR kernel
- fp16: on targets with fp16 arithmetic only (ARM +fullfp16), never where it would be converted
- cluster: per layer group (Model.layer_groups), per layer for the few layers no group names
  (allocate.own_layers) and for the rest, 3-8 bits and a rate weight of 0 (plain k-means), 1 or 3;
  with training data the shared values retrain 0, 1x or 5x the usual fine-tune; a codebook step
  packs the clustered tensors. A size search first tries the bits that allocate.py picks from each
  group's measured sensitivity
- int8: static (Conv+MatMul or Conv+MatMul+Gemm; layer groups may stay fp32 or quantize at run time;
  ONNX files only with calibration samples) or dynamic (MatMul or MatMul+Gemm; embeddings int8 or not);
  8- or 7-bit weights (reduce-range)
Steps that need training data (distill, fine-tunes) are offered only to models that have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from ..targets import Target
from . import allocate
from .allocate import REST
from .distill import Distill

# A student's training length, in multiples of distill's defaults. The default is short: digits-cnn's
# half-width student lost 1.6 points after 600 steps and 0.2 after 2400 (builds of 2026-11-30).
DISTILL_LENGTHS = (1, 2, 4)
FINE_TUNE = 100  # fine-tune steps after a compressing step (a model scales them: Model.training)
# Retraining clustered MiniLM's shared values for 5x the usual fine-tune (100 of its steps) took its
# cosine from 0.9721 to 0.9776 at the same transfer (deep-compression's MiniLM steps, 2026-11-30).
CLUSTER_TUNE = 5
RATE_WEIGHTS = (0.0, 1.0, 3.0)  # cluster's rate-weight: plain k-means, and entropy-constrained


class Suggest(Protocol):
    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None) -> float: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


@dataclass(frozen=True)
class Space:
    """What this model on this target may use."""

    torch_model: bool  # PyTorch steps need a PyTorch model; ONNX files get the graph steps only
    trainable: bool  # fine-tunes and distillation need the model's training data
    fp16_arithmetic: bool
    students: tuple[dict[str, Any], ...] = ()  # distill fields of the student shapes the model supports
    groups: tuple[tuple[str, str, str], ...] = ()  # (label, module glob, node-name regex)
    objective: str = "latency"  # "latency", "size" or "both"
    calibrated: bool = True  # static int8 needs calibration samples: the model's own, or --calibration
    own: tuple[str, ...] = ()  # clusterable layers no group names, each clustered with bits of its own

    @property
    def cluster_groups(self) -> tuple[tuple[str, str], ...]:
        """(label, module glob) of the cluster step's per-layer entries: the groups', in the model's order
        (globs may overlap and the first match wins), then each own layer's (its name is its glob)."""
        return (*((label, glob) for label, glob, _ in self.groups), *((name, name) for name in self.own))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.cluster_groups)

    @classmethod
    def of(cls, model, target: Target, objective: str, calibrated: bool = False) -> "Space":
        torch_model = model.kind == "torch"
        own = ()
        if torch_model and objective != "latency":  # only size points cluster
            own = allocate.own_layers(model.load(), [glob for _, glob, _ in model.layer_groups])
        return cls(torch_model=torch_model, trainable=model.has_training_data,
                   fp16_arithmetic=fp16_arithmetic(target), students=tuple(model.distill_students),
                   groups=tuple(model.layer_groups), objective=objective,
                   calibrated=calibrated or model.has_calibration_data, own=own)


def fp16_arithmetic(target: Target) -> bool:
    """Whether the target computes in fp16 natively (elsewhere fp16 graphs convert and run slower)."""
    mattr = target.tvm.get("mattr") or []
    return target.arch == "aarch64" and "+fullfp16" in mattr


def _on_grid(s: Suggest, name: str, low: float, high: float, step: float) -> float:
    """A float from low to high in steps, rounded to the grid (Optuna's 0.1 + 4 * 0.05 is 0.30000000000000004)."""
    return round(s.suggest_float(name, low, high, step=step), 6)


def sample(space: Space, s: Suggest) -> list[dict[str, Any]]:
    """One point: the recipe steps in their fixed order (PyTorch steps, then graph steps)."""
    steps: list[dict[str, Any]] = []
    if space.torch_model:
        steps += _torch_steps(space, s)
    steps += _graph_steps(space, s, clustered=any(step["technique"] == "cluster" for step in steps))
    return steps


def first_points(space: Space) -> list[dict[str, Any]]:
    """Parameters of the points a new search tries before it samples: int8 alone on 7-bit weights, and
    for an ONNX file's size also its initializers clustered at 6 bits (a PyTorch model's size search
    starts from the allocation, flows/search_start.py), none of which trains a network. Sampled first points
    can be all training: a 30-minute MiniLM search (2026-11-30) spent its first 9 trials training
    students and networks that it then pruned, and a MiniLM size search all 10 sampled trials it ended."""
    off = {"distill": "off", "prune_channels": False, "lowrank": False, "prune": False, "fp16": False, "cluster": False}
    points = [{**off, "int8": "dynamic", "int8.reduce_range": True, "int8.dynamic_operators": "MatMul,Gemm",
               "int8.embeddings": True}]
    if space.calibrated:
        points.append({**off, "int8": "static", "int8.reduce_range": True, "int8.operators": "Conv,MatMul,Gemm",
                       **{f"int8.fp32.{label}": False for label, _, _ in space.groups}})
    if space.objective != "latency" and not space.torch_model:
        points.append({**off, "int8": "off", "cluster_graph": True, "cluster_graph.bits": 6})
    return points


def clustered(choice: dict[str, tuple[int, float]], space: Space) -> dict[str, Any]:
    """Parameters of a point that only clusters: (bits, rate weight) per layer group label and for REST
    (the layers no group names), e.g. from allocate.allocate; the shared values retrained where the
    model trains. A label missing from `choice` gets 8 bits."""
    def pick(label: str, key: str) -> dict[str, Any]:
        bits, rate = choice.get(label, (8, 1.0))
        return {f"cluster.bits{key}": bits, f"cluster.rate_weight{key}": rate}

    off = {"distill": "off", "prune_channels": False, "lowrank": False, "prune": False, "fp16": False}
    tuned = {"cluster.fine_tune": CLUSTER_TUNE * FINE_TUNE} if space.trainable else {}
    return {**off, "cluster": True, **pick(REST, ""), **tuned,
            **{k: v for label in space.labels for k, v in pick(label, f".{label}").items()}}


def _torch_steps(space: Space, s: Suggest) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    tune = FINE_TUNE if space.trainable else 0
    if space.trainable and space.students:
        pick = s.suggest_categorical("distill", ["off", *range(len(space.students))])
        if pick != "off":
            times = s.suggest_categorical("distill.length", list(DISTILL_LENGTHS))
            steps.append({"technique": "distill", **space.students[pick], "steps": Distill.steps * times,
                          "transformer-steps": Distill.transformer_steps * times})
    if s.suggest_categorical("prune_channels", [False, True]):
        steps.append({"technique": "prune-channels", "ratio": _on_grid(s, "prune_channels.ratio", 0.1, 0.6, 0.05),
                      "channel-multiple": s.suggest_categorical("prune_channels.multiple", [8, 16]),
                      "fine-tune-steps": 2 * tune})
    if s.suggest_categorical("lowrank", [False, True]):
        steps.append({"technique": "lowrank", "params-budget": _on_grid(s, "lowrank.budget", 0.3, 0.9, 0.1),
                      "conv-factorization": s.suggest_categorical("lowrank.convs", ["channel", "tucker2"]),
                      "fine-tune-steps": tune})
    if space.objective != "latency" and s.suggest_categorical("prune", [False, True]):
        steps.append({"technique": "prune", "sparsity": _on_grid(s, "prune.sparsity", 0.1, 0.9, 0.1),
                      "fine-tune-steps": tune, "sparse-kernel-above": 0.75})
    if space.fp16_arithmetic and s.suggest_categorical("fp16", [False, True]):
        steps.append({"technique": "fp16"})
        return steps  # fp16 graphs take no int8 or clustering steps
    if space.objective != "latency" and s.suggest_categorical("cluster", [False, True]):
        # the step's own bits and rate weight are for the layers no group names (e.g. embedding tables)
        step = {"technique": "cluster", "bits": s.suggest_int("cluster.bits", 3, 8),
                "rate-weight": s.suggest_categorical("cluster.rate_weight", list(RATE_WEIGHTS))}
        if space.trainable:  # the shared values retrained, assignments fixed (cluster.py)
            step["fine-tune-steps"] = s.suggest_categorical("cluster.fine_tune", [0, tune, CLUSTER_TUNE * tune])
        layers = {glob: {"bits": s.suggest_int(f"cluster.bits.{label}", 3, 8),
                         "rate-weight": s.suggest_categorical(f"cluster.rate_weight.{label}", list(RATE_WEIGHTS))}
                  for label, glob in space.cluster_groups}
        if layers:
            step["layers"] = layers
        steps.append(step)
    return steps


def _graph_steps(space: Space, s: Suggest, clustered: bool) -> list[dict[str, Any]]:
    if clustered:  # shared values are stored as packed indices; int8 would re-quantize them
        return [{"technique": "codebook", "bits": 8}]
    mode = s.suggest_categorical("int8", ["off", "static", "dynamic"] if space.calibrated else ["off", "dynamic"])
    if mode == "off":
        return _cluster_graph(space, s)
    # 7-bit weights: AVX2 without VNNI multiplies them without the sign step, at some accuracy
    seven = s.suggest_categorical("int8.reduce_range", [False, True])
    if mode == "static":
        ops = s.suggest_categorical("int8.operators", ["Conv,MatMul", "Conv,MatMul,Gemm"]).split(",")
        exclude = [regex for label, _, regex in space.groups if s.suggest_categorical(f"int8.fp32.{label}", [False, True])]
        step = {"technique": "int8-static", "operators": ops, "reduce-range": seven}
        if not exclude:
            return [step]
        # the layers kept from static int8 may still quantize at run time (int8-static's MiniLM recipe)
        if s.suggest_categorical("int8.excluded", ["fp32", "dynamic"]) == "fp32":
            return [{**step, "exclude": exclude}]
        return [{**step, "exclude": exclude}, {"technique": "int8-dynamic", "operators": ["MatMul", "Gemm"],
                                               "embeddings": True, "reduce-range": seven}]
    ops = s.suggest_categorical("int8.dynamic_operators", ["MatMul", "MatMul,Gemm"]).split(",")
    return [{"technique": "int8-dynamic", "operators": ops, "reduce-range": seven,
             "embeddings": s.suggest_categorical("int8.embeddings", [False, True])}]


def _cluster_graph(space: Space, s: Suggest) -> list[dict[str, Any]]:
    if space.torch_model or space.objective == "latency":
        return []
    if s.suggest_categorical("cluster_graph", [False, True]):  # ONNX files: cluster the graph's initializers
        return [{"technique": "cluster-graph", "bits": s.suggest_int("cluster_graph.bits", 3, 8)},
                {"technique": "codebook", "bits": 8}]
    return []
