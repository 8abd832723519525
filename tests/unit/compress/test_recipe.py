import re

import pytest

from edgebuild import compress, schema
from edgebuild.compress.recipe import configs
from edgebuild.errors import ConfigError, LookupFailed

from ...conftest import ROOT


def test_none_recipe_loads_and_round_trips(project):
    recipe = compress.load(project, "none")
    assert recipe.steps == [] and recipe.name == "none"
    path = compress.folder(project).path("none")
    assert schema.dump(recipe) == schema.load_toml(path)


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "recipes").glob("*.toml")))
def test_every_shipped_recipe_loads_typed_and_dumps_back_to_its_file(project, name):
    recipe = compress.load(project, name)
    assert compress.dump(recipe) == schema.load_toml(compress.folder(project).path(name))
    assert len(recipe.configs) == len(recipe.steps)  # every step has its typed config
    assert recipe.description


def test_unknown_recipe_lists_the_valid_ones(project):
    with pytest.raises(LookupFailed, match="unknown recipe 'int4'; valid recipes: .*none"):
        compress.load(project, "int4")


@pytest.mark.parametrize("body,match", [
    ('[[steps]]\ntechnique = "magic"\n',
     r"{path}: steps\[0\]: unknown technique 'magic'; valid techniques: .*int8-static"),
    ('[[steps]]\ntechnique = "int8-static"\ncalibration-sample = 5\n',
     r"{path}.*steps\[0\]\.calibration-sample: unknown key; valid keys here: calibration-samples"),
    ('[[steps]]\ntechnique = "int8-static"\nmethod = "median"\n',
     r"steps\[0\]\.method: invalid value 'median'; expected one of 'minmax'"),
    ('[targets.rpi4]\nsteps = [{ technique = "int3" }]\n',
     r"targets\.rpi4.*unknown technique 'int3'"),
    ('[models.minilm]\nsteps = [{ technique = "cluster", layers = { "*.value" = { bits = 9 } } }]\n',
     r"models\.minilm.*layers\.\*\.value\.bits: must be 1\.\.8"),
    ('[models.minilm]\nstep = []\n',
     r"models\.minilm\.step'?: unknown key; valid keys here: gate, refuse, steps"),
], ids=["unknown-technique", "unknown-step-key", "bad-step-value", "bad-override-step", "bad-model-layer-bits",
        "bad-model-override-key"])
def test_invalid_steps_name_file_step_and_the_fix(tmp_project, body, match):
    path = tmp_project.recipes_dir / "odd.toml"
    path.write_text('description = "x"\n' + body)
    with pytest.raises(ConfigError, match=match.replace("{path}", re.escape(str(path)))):
        compress.load(tmp_project, "odd")


def test_graph_steps_must_follow_pytorch_steps():
    with pytest.raises(ValueError, match="must come after every PyTorch step"):
        configs([{"technique": "int8-static"}, {"technique": "fp16"}], "steps")


def odd(tmp_project, body: str):
    """(path, recipe) of a recipe 'odd' written with `body` after its description."""
    path = tmp_project.recipes_dir / "odd.toml"
    path.write_text('description = "x"\n' + body)
    return path, compress.load(tmp_project, "odd")


def test_per_target_override_replaces_gate_and_refuse_names_the_reason(tmp_project):
    path, recipe = odd(tmp_project, '[[steps]]\ntechnique = "int8-static"\n[gate]\nmax-accuracy-drop = 0.5\n'
                                    '[targets.rpi5]\ngate = { max-accuracy-drop = 2.0 }\n'
                                    '[targets.rpi4]\nrefuse = "int8 is slower than fp32 without sdot"\n')
    assert recipe.for_target("rpi5").gate.max_accuracy_drop == 2.0
    assert recipe.for_target("host").gate.max_accuracy_drop == 0.5
    with pytest.raises(LookupFailed, match="refuses target 'rpi4': int8 is slower"):
        recipe.for_target("rpi4")
    assert compress.dump(recipe) == schema.load_toml(path)


def test_per_model_override_applies_before_the_target_override(tmp_project):
    path, recipe = odd(tmp_project, '[[steps]]\ntechnique = "prune"\n[gate]\nmax-accuracy-drop = 0.5\n'
                                    '[models.minilm]\nsteps = [{ technique = "prune", sparsity = 0.1 }]\n'
                                    '[models.det-1234]\nrefuse = "no training data"\n'
                                    '[targets.rpi5]\ngate = { min-cosine-to-fp32 = 0.9 }\n')
    minilm = recipe.for_model("minilm").for_target("rpi5")
    assert minilm.steps == [{"technique": "prune", "sparsity": 0.1}] and minilm.gate.min_cosine_to_fp32 == 0.9
    assert minilm.model == "minilm" and minilm.target == "rpi5"
    assert recipe.for_model("digits-cnn").steps == [{"technique": "prune"}]
    with pytest.raises(LookupFailed, match="refuses model 'det-1234': no training data"):
        recipe.for_model("det-1234")
    assert compress.dump(recipe) == schema.load_toml(path)


def test_a_model_may_refuse_one_target_and_only_a_model_table_nests_targets(tmp_project):
    path, recipe = odd(tmp_project, '[[steps]]\ntechnique = "int8-static"\n'
                                    '[targets.rpi4]\ngate = { max-accuracy-drop = 2.0 }\n'
                                    '[models.digits-cnn.targets.host]\nrefuse = "measured 4x slower than fp32"\n')
    with pytest.raises(LookupFailed, match="refuses target 'host': measured 4x slower"):
        recipe.for_model("digits-cnn").for_target("host")
    assert recipe.for_model("minilm").for_target("host").target == "host"
    assert recipe.for_model("digits-cnn").for_target("rpi4").gate.max_accuracy_drop == 2.0
    assert compress.dump(recipe) == schema.load_toml(path)
    with pytest.raises(ConfigError, match=r"targets\.rpi4\.targets: only a model's table"):
        odd(tmp_project, '[targets.rpi4.targets.host]\nrefuse = "x"\n')


@pytest.mark.parametrize("name", ["int8-static", "int8-dynamic", "qat-int8"])
def test_shipped_int8_recipes_refuse_no_target_and_type_no_timings(project, name):
    recipe = compress.load(project, name)
    for model in ("digits-cnn", "minilm", "det-1234"):
        for target in ("host", "rpi4", "rpi5"):
            assert recipe.for_model(model).for_target(target).target == target
    assert not re.search(r"\d\s*ms\b", compress.folder(project).path(name).read_text())


def test_int8_static_quantizes_minilms_gemm_weights_and_the_ffn_down_projections_at_run_time(project):
    recipe = compress.load(project, "int8-static")
    minilm, down = recipe.for_model("minilm").for_target("rpi5").configs
    assert "Gemm" in minilm.operators and "MatMul" in minilm.operators  # MiniLM's linears export as Gemm
    assert minilm.exclude == [r"layer\.\d+/output/dense/", "attention/self/MatMul"]
    assert "Gemm" in down.operators and "MatMul" in down.operators and down.embeddings  # int8-dynamic: the rest
    assert minilm.reduce_range and down.reduce_range  # 7-bit weights: AVX2's kernel without the sign step
    assert recipe.for_model("minilm").gate.min_cosine_to_fp32 == 0.98
    (digits,) = recipe.for_model("digits-cnn").configs
    assert list(digits.operators) == ["Conv", "MatMul"] and not digits.exclude  # the classifier head stays fp32
    assert digits.reduce_range  # 7-bit weights by default
    (dynamic,) = compress.load(project, "int8-dynamic").for_model("minilm").configs
    assert dynamic.reduce_range and dynamic.embeddings


def test_every_technique_lists_a_typed_config_and_stage():
    for name, technique in compress.techniques().items():
        assert technique.name == name and technique.stage in ("torch", "onnx")
        assert technique.config()  # every field has a default: a bare step is valid


@pytest.mark.parametrize("body,match", [
    ('[gate]\nmax-accuracy-drop = nan\n', "max-accuracy-drop.*finite"),
    ('[gate]\nmin-cosine-to-fp32 = inf\n', "min-cosine-to-fp32.*finite"),
    ('[[steps]]\ntechnique = "prune"\nfine-tune-steps = -5\n', "fine-tune-steps.*>= 0"),
    ('[[steps]]\ntechnique = "prune"\nlearning-rate = -0.1\n', "learning-rate.*> 0"),
], ids=["nan-drop", "inf-cosine", "negative-steps", "negative-lr"])
def test_gate_and_schedule_numbers_are_checked(tmp_project, body, match):
    path = tmp_project.recipes_dir / "odd.toml"
    path.write_text('description = "x"\n' + body)
    with pytest.raises(ConfigError, match=match):
        compress.load(tmp_project, "odd")


@pytest.mark.parametrize("name,value", [("accuracy", float("nan")), ("cosine_to_fp32", float("nan")),
                                        ("accuracy", float("inf"))])
def test_a_non_finite_metric_fails_the_gate(tmp_project, name, value):
    from edgebuild.compress.gate import check
    from edgebuild.errors import GateFailed

    path = tmp_project.recipes_dir / "odd.toml"
    path.write_text('description = "x"\n[gate]\nmax-accuracy-drop = 1.0\nmin-cosine-to-fp32 = 0.9\n')
    with pytest.raises(GateFailed, match="not a finite number"):
        check(compress.load(tmp_project, "odd"), 97.0, name, value, [])


def test_int8_is_a_property_of_the_techniques_and_shipped_int8_recipes_warn(project):
    assert {n for n, t in compress.techniques().items() if t.int8} == {"int8-static", "int8-dynamic"}
    for name in ("int8-static", "int8-dynamic", "qat-int8"):
        recipe = compress.load(project, name)
        assert recipe.int8 and recipe.speed_guard == "warn" and recipe.guard == "warn"
    assert not compress.load(project, "none").int8 and not compress.load(project, "prune-50").int8


@pytest.mark.parametrize("body,match", [
    ('speed-guard = "maybe"\n[[steps]]\ntechnique = "int8-static"\n',
     r"speed-guard'?: invalid value 'maybe'; expected one of 'warn', 'refuse', 'off'"),
    ('speed-guard = "refuse"\n[[steps]]\ntechnique = "prune"\n',
     r"speed-guard: applies only to recipes with an int8 step \(int8-dynamic, int8-static\); remove the key"),
], ids=["bad-value", "not-int8"])
def test_speed_guard_is_checked_when_the_recipe_loads(tmp_project, body, match):
    with pytest.raises(ConfigError, match=match):
        odd(tmp_project, body)


def test_a_recipe_may_refuse_and_an_int8_override_may_carry_the_guard(tmp_project):
    path, recipe = odd(tmp_project, 'speed-guard = "refuse"\n[[steps]]\ntechnique = "int8-static"\n')
    assert recipe.guard == "refuse" and compress.dump(recipe) == schema.load_toml(path)
    _, recipe = odd(tmp_project, 'speed-guard = "off"\n[models.minilm]\nsteps = [{ technique = "int8-dynamic" }]\n')
    assert recipe.guard == "off" and recipe.for_model("minilm").int8 and not recipe.for_model("digits-cnn").int8
    assert odd(tmp_project, '[[steps]]\ntechnique = "int8-static"\n')[1].guard == "warn"  # unset means warn
