"""Low-rank factorization: exact on exactly low-rank weights, Tucker-2's structure, the global budget."""

import pytest
import torch
import torch.nn as nn

from edgebuild.compress import lowrank
from edgebuild.compress.recipe import configs


class Ctx:
    def __init__(self):
        self.notes, self.model = {}, None


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("multiple, rank", [(1, 4), (16, 16)], ids=["exact-rank", "rounded-to-16"])
def test_svd_factors_a_low_rank_linear_layer_exactly_at_a_rank_multiple(multiple, rank):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 48))
    net[0].weight.data = torch.randn(48, 4) @ torch.randn(4, 64)  # rank 4
    x = torch.randn(8, 64)
    want = net(x)
    ctx = Ctx()
    lowrank.apply(net, lowrank.LowRank(energy=0.9999, rank_multiple=multiple), ctx)
    assert ctx.notes["ranks"] == {"0": rank} and torch.allclose(net(x), want, atol=1e-4)
    assert _params(net) <= rank * (64 + 48) + 48


def test_tucker2_is_1x1_core_1x1_and_exact_on_a_low_multilinear_rank_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(40, 48, 3, stride=2, padding=1)
    core, u_out, u_in = torch.randn(6, 5, 3, 3), torch.randn(48, 6), torch.randn(40, 5)
    conv.weight.data = torch.einsum("rskl,or,is->oikl", core, u_out, u_in)  # ranks (6, 5)
    net, x = nn.Sequential(conv), torch.randn(2, 40, 9, 9)
    want = net(x)
    ctx = Ctx()
    lowrank.apply(net, lowrank.LowRank(energy=0.99999, conv_factorization="tucker2", rank_multiple=1), ctx)
    first, middle, last = net[0]
    assert (first.kernel_size, middle.kernel_size, last.kernel_size) == ((1, 1), (3, 3), (1, 1))
    assert (first.out_channels, middle.out_channels, middle.stride) == (5, 6, (2, 2))
    assert ctx.notes["ranks"] == {"0": [6, 5]}
    assert torch.allclose(net(x), want, atol=1e-3 * float(want.detach().abs().max()))


def test_params_budget_is_met_and_spent_where_the_energy_is():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 128))
    net[0].weight.data = torch.randn(128, 8) @ torch.randn(8, 128) + 0.01 * torch.randn(128, 128)  # ~rank 8
    dense = 2 * 128 * 128
    ctx = Ctx()
    lowrank.apply(net, lowrank.LowRank(params_budget=0.3, rank_multiple=1), ctx)
    kept = ctx.notes["factorable_params_kept"]
    assert 0.25 <= kept <= 0.3 and _params(net) - 2 * 128 <= 0.3 * dense
    ranks = ctx.notes["ranks"]
    assert ranks["0"] < 16 and ranks["2"] > 3 * ranks["0"]  # the flat spectrum gets the parameters


def test_params_budget_keeps_a_layer_dense_rather_than_factor_it_at_a_loss():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.Linear(64, 64))
    net[0].weight.data = torch.randn(64, 2) @ torch.randn(2, 64)
    ctx = Ctx()
    lowrank.apply(net, lowrank.LowRank(params_budget=0.9, max_rank_ratio=0.8), ctx)
    assert isinstance(net[0], nn.Sequential) and isinstance(net[1], nn.Linear)  # full-rank random layer stays


@pytest.mark.parametrize("fields, match", [
    ({"params-budget": 1.5}, "params-budget: must be in"),
    ({"rank-multiple": 0}, "rank-multiple: must be >= 1"),
    ({"conv-factorization": "cp"}, "conv-factorization: invalid value 'cp'; expected one of 'channel', 'tucker2'"),
])
def test_lowrank_fields_are_validated(fields, match):
    with pytest.raises(ValueError, match=match):
        configs([{"technique": "lowrank", **fields}], "steps")
