import itertools
import random
import zlib

import pytest
import torch

from edgebuild.compress import allocate


def table(seed: int, groups: int = 4, options: int = 5):
    rng = random.Random(seed)
    return {f"g{g}": [allocate.Option(3 + o, 1.0, rng.randrange(100, 1000), rng.uniform(-0.001, 0.01))
                      for o in range(options)] for g in range(groups)}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("drop", [0.0, 0.005, 0.015, 0.04])
def test_allocation_is_the_fewest_bytes_within_the_drop_as_brute_force_finds(seed, drop):
    t = table(seed)
    fits = [combo for combo in itertools.product(*t.values()) if sum(o.drop for o in combo) <= drop + 1e-12]
    got = allocate.allocate(t, drop)
    if not fits:
        assert got is None
        return
    assert list(got) == list(t)
    assert sum(o.bytes for o in got.values()) == min(sum(o.bytes for o in combo) for combo in fits)
    assert sum(o.drop for o in got.values()) <= drop + 1e-12


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(64, 32)
        self.up = torch.nn.Linear(32, 64)
        self.down = torch.nn.Linear(64, 32)

    def forward(self, x):
        return self.down(torch.relu(self.up(self.embed(x))))


def test_profile_measures_each_group_alone_and_leaves_the_weights_as_they_were():
    net = Net().eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.arange(64)
    with torch.no_grad():
        want = net(x)
    seen = []

    def metric(module):  # cosine to the fp32 output; records which layers are clustered at the time
        seen.append(tuple(len(torch.unique(m.weight)) <= 256 for m in (module.embed, module.up, module.down)))
        with torch.no_grad():
            return float(torch.nn.functional.cosine_similarity(module(x).flatten(), want.flatten(), dim=0))

    options = [(2, 1.0), (6, 1.0), (6, 3.0)]
    t = allocate.profile(net, [("ffn", "up"), ("out", "down")], metric, lambda d: len(zlib.compress(d)), options)
    assert list(t) == ["ffn", "out", "rest"]  # the embedding table is in no group
    assert all(k in before and torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert seen[0] == (False, False, False)  # the reference
    assert seen[1:4] == [(False, True, False)] * 3 and seen[-3:] == [(True, False, False)] * 3
    for options_of in t.values():
        two, six, six_rated = options_of
        assert two.drop > six.drop >= -1e-6  # fewer values lose more
        assert two.bytes < six.bytes and six_rated.bytes < six.bytes  # and cost less, as does a rate weight


def test_each_layer_no_group_names_is_its_own_group_unless_there_are_too_many():
    net = Net()
    assert allocate.own_layers(net, ["up"]) == ("embed", "down")
    assert allocate.own_layers(net, ["up", "d*"]) == ("embed",)
    assert allocate.own_layers(net, [], most=2) == ()  # three: they stay one group, REST
    t = allocate.profile(net, [("ffn", "up"), *((n, n) for n in allocate.own_layers(net, ["up"]))],
                         lambda module: 1.0, len, [(4, 1.0)])
    assert list(t) == ["ffn", "embed", "down"]
