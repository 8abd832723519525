import optuna
import pytest

from edgebuild.compress import recipe, space


def draws(s: space.Space, n: int = 150) -> list[list[dict]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [space.sample(s, study.ask()) for _ in range(n)]


def techniques(steps):
    return [step["technique"] for step in steps]


GROUPS = (("ffn-in", "*.intermediate.dense", r"intermediate/dense/"),
          ("ffn-out", "*.output.dense", r"layer\.\d+/output/dense/"))


@pytest.mark.parametrize("objective", ["latency", "size", "both"])
def test_every_point_is_a_valid_recipe_in_pipeline_order(objective):
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=True, students=({"width": 0.5},),
                    groups=GROUPS, objective=objective)
    seen, tunes = set(), set()
    for steps in draws(s):
        recipe.configs(steps, "steps")  # raises on a bad field, value or order
        seen.update(techniques(steps))
        tunes.update(step["fine-tune-steps"] for step in steps if step["technique"] == "cluster")
    assert {"prune-channels", "lowrank", "distill", "int8-static", "int8-dynamic", "fp16"} <= seen
    assert tunes == (set() if objective == "latency" else {0, 100, 500})  # the shared values retrained or not
    assert ("cluster" in seen) == (objective != "latency")  # sharing values shrinks transfers, not latency


def test_no_fp16_without_fp16_arithmetic_and_no_training_steps_without_data():
    s = space.Space(torch_model=True, trainable=False, fp16_arithmetic=False, students=({"width": 0.5},), objective="both")
    for steps in draws(s):
        assert "fp16" not in techniques(steps) and "distill" not in techniques(steps)
        assert all(step.get("fine-tune-steps", 0) == 0 for step in steps)


def test_onnx_files_get_graph_steps_only():
    s = space.Space(torch_model=False, trainable=False, fp16_arithmetic=False, objective="size")
    seen = set()
    for steps in draws(s):
        recipe.configs(steps, "steps")
        seen.update(techniques(steps))
    assert seen == {"int8-static", "int8-dynamic", "cluster-graph", "codebook"}
    # without calibration samples (an ONNX file without --calibration) static int8 is never drawn
    uncalibrated = space.Space(torch_model=False, trainable=False, fp16_arithmetic=False, objective="size",
                               calibrated=False)
    assert "int8-static" not in {t for steps in draws(uncalibrated) for t in techniques(steps)}


def test_clustered_points_are_packed_and_not_requantized():
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=False, groups=GROUPS, objective="size",
                    own=("embeddings.position",))
    for steps in draws(s):
        names = techniques(steps)
        if "cluster" in names:
            assert names[-1] == "codebook" and not {"int8-static", "int8-dynamic"} & set(names)
            # every group gets its bits: the first matching glob wins, so none may be left out; then each
            # layer no group names that has bits of its own, by its name
            layers = steps[names.index("cluster")]["layers"]
            assert list(layers) == [*(g[1] for g in GROUPS), "embeddings.position"]


def test_fp16_arithmetic_is_read_from_the_target(project):
    from edgebuild import targets

    assert not space.fp16_arithmetic(targets.load(project, "rpi4"))
    assert not space.fp16_arithmetic(targets.load(project, "host"))


def test_sampled_fractions_sit_on_their_grid():
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=True, students=({"width": 0.5},),
                    groups=GROUPS, objective="size")
    fields = {"ratio", "params-budget", "sparsity"}
    values = [step[f] for steps in draws(s) for step in steps for f in fields & step.keys()]
    assert values and all(len(repr(v)) <= 4 for v in values)  # 0.3, never 0.30000000000000004


def test_distilled_students_train_for_one_of_the_offered_lengths():
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=False, students=({"width": 0.5},))
    lengths = set()
    for steps in draws(s):
        for step in (st for st in steps if st["technique"] == "distill"):
            times = step["steps"] // 600
            assert step["steps"] == 600 * times and step["transformer-steps"] == 300 * times
            lengths.add(times)
    assert lengths == set(space.DISTILL_LENGTHS)


def test_int8_points_offer_7_bit_weights_and_run_time_quantization_for_the_excluded_layers():
    """The shipped MiniLM int8-static recipe is a point: static int8 with the FFN down-projections kept
    from it and quantized at run time instead, 7-bit weights."""
    s = space.Space(torch_model=False, trainable=False, fp16_arithmetic=False, groups=GROUPS, objective="latency")
    seen = set()
    for steps in draws(s, 300):
        recipe.configs(steps, "steps")
        int8 = [step for step in steps if step["technique"].startswith("int8")]
        seen.update((step["technique"], step["reduce-range"]) for step in int8)
        if len(int8) == 2:
            static, dynamic = int8
            assert static["technique"] == "int8-static" and static["exclude"] and dynamic["technique"] == "int8-dynamic"
            assert dynamic["reduce-range"] == static["reduce-range"]
            seen.add("excluded layers dynamic")
    assert seen == {(t, r) for t in ("int8-static", "int8-dynamic") for r in (False, True)} | {"excluded layers dynamic"}


@pytest.mark.parametrize("calibrated", [True, False])
def test_a_new_search_first_tries_int8_alone_on_7_bit_weights(calibrated):
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=True, students=({"width": 0.5},),
                    groups=GROUPS, objective="both", calibrated=calibrated)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for params in space.first_points(s):
        study.enqueue_trial(params)
    got = [space.sample(s, study.ask()) for _ in space.first_points(s)]
    want = [[{"technique": "int8-dynamic", "operators": ["MatMul", "Gemm"], "reduce-range": True, "embeddings": True}]]
    if calibrated:
        want.append([{"technique": "int8-static", "operators": ["Conv", "MatMul", "Gemm"], "reduce-range": True}])
    # a PyTorch model's size side starts from the clustering allocation (flows/search_start.py), not here
    assert got == want


def test_an_onnx_files_size_search_first_clusters_its_initializers():
    s = space.Space(torch_model=False, trainable=False, fp16_arithmetic=False, objective="size", calibrated=False)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for params in space.first_points(s):
        study.enqueue_trial(params)
    got = [space.sample(s, study.ask()) for _ in space.first_points(s)]
    assert got[-1] == [{"technique": "cluster-graph", "bits": 6}, {"technique": "codebook", "bits": 8}]
    latency = space.Space(torch_model=False, trainable=False, fp16_arithmetic=False, objective="latency")
    assert all(not p.get("cluster_graph") for p in space.first_points(latency))


def test_an_allocated_choice_is_a_point_with_each_groups_bits_and_rate_weight():
    s = space.Space(torch_model=True, trainable=True, fp16_arithmetic=False, groups=GROUPS, objective="size",
                    own=("embeddings.position",))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(space.clustered({"rest": (3, 3.0), "ffn-in": (5, 1.0), "ffn-out": (8, 0.0),
                                         "embeddings.position": (7, 1.0)}, s))
    steps = space.sample(s, study.ask())
    recipe.configs(steps, "steps")
    assert steps == [{"technique": "cluster", "bits": 3, "rate-weight": 3.0, "fine-tune-steps": 500,
                      "layers": {"*.intermediate.dense": {"bits": 5, "rate-weight": 1.0},
                                 "*.output.dense": {"bits": 8, "rate-weight": 0.0},
                                 "embeddings.position": {"bits": 7, "rate-weight": 1.0}}},
                     {"technique": "codebook", "bits": 8}]


def test_a_size_search_gives_the_layers_no_group_names_bits_of_their_own(project):
    import torch

    from edgebuild import targets

    class Model:  # what Space.of reads of a model
        kind, has_training_data, has_calibration_data, distill_students = "torch", False, False, ()
        layer_groups = (("up", "up", r"up/"),)

        def load(self):
            return torch.nn.ModuleDict({"embed": torch.nn.Embedding(64, 32), "up": torch.nn.Linear(32, 64)})

    host = targets.load(project, "host")
    assert space.Space.of(Model(), host, "size").labels == ("up", "embed")
    assert space.Space.of(Model(), host, "latency").own == ()  # latency points do not cluster
