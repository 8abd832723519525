import pytest

from edgebuild.errors import ConfigError
from edgebuild.flows.release import plan

GOOD = """
description = "d"
models = ["digits-cnn"]
recipes = ["none"]
targets = ["rpi4"]
[devices]
rpi4 = ["rpi4"]
[thresholds]
max-latency-ratio = 1.2
"""


def write(tmp_project, text):
    (tmp_project.root / "releases").mkdir(exist_ok=True)
    (tmp_project.root / "releases" / "p.toml").write_text(text)


def test_loads_and_round_trips(tmp_project, project):
    write(tmp_project, GOOD)
    p = plan.load(tmp_project, "p")
    assert p.thresholds.max_latency_ratio == 1.2 and p.devices == {"rpi4": ["rpi4"]}
    assert plan.load(project, "edge-models").targets == ["x86-64-v3", "rpi4"]


@pytest.mark.parametrize("text, message", [
    (GOOD.replace('targets = ["rpi4"]', 'targets = ["host"]').replace("[devices]\nrpi4 = [\"rpi4\"]", ""),
     r"p.toml:5: key 'targets\[0\]': target 'host' compiles for the build machine's own CPU"),
    (GOOD.replace('recipes = ["none"]', 'recipes = ["int9"]'), "key 'recipes.*unknown recipe 'int9'; valid: "),
    (GOOD.replace('models = ["digits-cnn"]', 'models = ["nets/x.onnx"]'), "neither a built-in model"),
    (GOOD.replace("max-latency-ratio = 1.2", "max-latency-ratio = 0.9"), "a ratio below 1.0 refuses"),
    (GOOD.replace("max-latency-ratio = 1.2", "max-latency = 1.2"), "key 'thresholds.max-latency': unknown key"),
    (GOOD.replace("rpi4 = [\"rpi4\"]", "rpi5 = [\"pi\"]"), "'rpi5' is not one of the plan's targets"),
    (GOOD.replace('recipes = ["none"]', 'recipes = []'), "key 'recipes': list at least one"),
])
def test_rejects_with_file_key_and_fix(tmp_project, text, message):
    write(tmp_project, text)
    with pytest.raises(ConfigError, match=message):
        plan.load(tmp_project, "p")


def test_unknown_plan_lists_the_plans(tmp_project):
    write(tmp_project, GOOD)
    with pytest.raises(Exception, match="unknown release plan 'q'; valid release plans: p"):
        plan.load(tmp_project, "q")
