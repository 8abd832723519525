import numpy as np
import torch

from edgebuild.compress import recipe, space as spaces
from edgebuild.flows import search_start
from edgebuild.models.base import TensorSpec
from edgebuild.compress.measure import torch_predict


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(64, 32)
        self.up = torch.nn.Linear(32, 64)
        self.down = torch.nn.Linear(64, 32)

    def forward(self, x):
        return self.down(torch.relu(self.up(self.embed(x))))


class Tiny:
    """A model as the search sees one: inputs, a loader and a cosine metric on a split (a unit-test
    stand-in for the Model interface; the real models are searched in tests/integration)."""

    name = "tiny"
    splits: list[str] = []

    def inputs(self):
        return [TensorSpec("x", (64,), "int64")]

    def load(self):
        return Net().eval()

    def metrics(self, predict, specs, split="all"):
        self.splits.append(split)
        x = {"x": np.arange(64)}
        want = torch_predict(Net().eval(), specs)(x)[0].ravel()
        got = predict(x)[0].ravel()
        return {"cosine_to_fp32": float(got @ want / (np.linalg.norm(got) * np.linalg.norm(want)))}


def test_a_size_search_first_tries_the_allocated_points_then_the_spaces_own():
    space = spaces.Space(torch_model=True, trainable=False, fp16_arithmetic=False,
                         groups=(("ffn", "up", r"up/"),), objective="size", calibrated=False)
    said = []
    points = search_start.first_points(Tiny(), space, slack=0.01, say=said.append)
    own = spaces.first_points(space)
    assert points[-len(own):] == own
    allocated = points[:-len(own)]
    assert 1 <= len(allocated) <= len(search_start.LADDER) and len(said) == len(allocated)
    assert set(Tiny.splits) == {"search"}  # chosen on the search split; the held-out split is for the report
    study = __import__("optuna").create_study()
    for params in allocated:
        study.enqueue_trial(params)
    for _ in allocated:
        steps = spaces.sample(space, study.ask())
        recipe.configs(steps, "steps")
        assert [s["technique"] for s in steps] == ["cluster", "codebook"]
    latency = spaces.Space(torch_model=True, trainable=False, fp16_arithmetic=False, objective="latency")
    assert search_start.first_points(Tiny(), latency, slack=0.01) == spaces.first_points(latency)
