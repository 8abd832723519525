"""Dependency-aware channel pruning on residual (resnet18), inverted-residual (mobilenetv2) and concat nets.

Seeded weights: accuracy means nothing here, so correctness is checked directly: the pruned net
runs with the right output shape, tensors really shrink, MACs drop, and removing channels whose
importance is exactly zero leaves the outputs unchanged.
"""

import pytest
import torch
import torch.nn as nn

from edgebuild.compress import channel_groups, prune_channels
from edgebuild.compress.measure import torch_numbers
from edgebuild.models.base import TensorSpec
from edgebuild.models.vision import mobilenet_v2, resnet18

SIZE = 64  # the nets end in adaptive pooling, so a small image keeps these tests fast
SPECS = [TensorSpec("image", (1, 3, SIZE, SIZE), "float32")]


class ConcatNet(nn.Module):
    """Two branches concatenated, then a residual add with a third: concat ranges and add ties."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 6, 1)
        self.bn = nn.BatchNorm2d(14)
        self.mix, self.skip = nn.Conv2d(14, 12, 3, padding=1), nn.Conv2d(3, 12, 1)
        self.head = nn.Conv2d(12, 5, 1)

    def forward(self, x):
        y = self.bn(torch.cat([torch.relu(self.a(x)), self.b(x)], dim=1))
        return self.head(torch.relu(self.mix(y) + self.skip(x)))


def _net(arch):
    torch.manual_seed(0)
    return arch().eval()


def _image():
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _zero_channels(net, groups, root, channels):
    """Make every writer of `channels` of group `root` emit exact zeros (conv filters, biases, BN)."""
    modules = dict(net.named_modules())
    layouts = [(n, ((s, groups.sizes[s]),)) for n, s in groups.producers] + groups.members
    with torch.no_grad():
        for name, layout in layouts:
            start = 0
            for s, n in layout:
                if groups.find(s) == root:
                    for tensor in (modules[name].weight, modules[name].bias):
                        if tensor is not None:
                            tensor[[start + c for c in channels]] = 0
                start += n


@pytest.mark.parametrize("arch, tied", [(resnet18, 64), (mobilenet_v2, 24)])
def test_channels_of_zero_importance_are_removed_without_changing_the_outputs(arch, tied):
    net, x = _net(arch), _image()
    groups = channel_groups.analyse(net, (x,))
    roots = groups.roots()
    residual = next(r for r in roots if groups.sizes[r] == tied and sum(
        groups.find(s) == r for _, s in groups.producers) > 1)  # a group tied by adds
    inner = next(r for r in roots if r != residual)
    _zero_channels(net, groups, residual, [0, 5, 7])
    _zero_channels(net, groups, inner, [1, 2])
    with torch.no_grad():
        before = net(x)
    scores = groups.importance()
    assert (scores[residual] == 0).sum() == 3 and (scores[inner] == 0).sum() == 2
    kept = {r: (scores[r] != 0).nonzero().flatten() for r in roots}
    params = torch_numbers(net, SPECS)["params"]
    channel_groups.remove(groups, kept)
    with torch.no_grad():
        after = net(x)
    assert after.shape == before.shape
    assert torch.allclose(after, before, rtol=1e-4, atol=1e-4 * float(before.abs().max()))
    assert torch_numbers(net, SPECS)["params"] < params
    assert any(isinstance(m, nn.Conv2d) and m.out_channels == tied - 3 for m in net.modules())


@pytest.mark.parametrize("arch", [resnet18, mobilenet_v2])
def test_prune_channels_on_residual_nets_shrinks_tensors_and_macs(arch):
    net = _net(arch)
    before = torch_numbers(net, SPECS)
    widths = {n: m.out_channels for n, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    ctx = type("Ctx", (), {"specs": SPECS, "notes": {}, "model": type("M", (), {"name": arch.__name__})})()
    prune_channels.apply(net, prune_channels.PruneChannels(ratio=0.3, fine_tune_steps=0), ctx)
    after = torch_numbers(net, SPECS)
    pruned = {n: m.out_channels for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.out_channels != widths[n]}
    # vector-friendly widths (channel-multiple 16; half that for groups of 16 or fewer channels)
    assert pruned and all(w % 16 == 0 or (widths[n] <= 16 and w % 8 == 0) for n, w in pruned.items())
    assert after["macs"] < 0.8 * before["macs"] and after["params"] < 0.9 * before["params"]
    with torch.no_grad():
        assert net(_image()).shape == (2, 1000)  # the network's output channels are never pruned
    for block in (m for m in net.modules() if hasattr(m, "skip") and isinstance(m.skip, nn.Sequential)):
        assert block.skip[0].out_channels == block.body[-1].num_features  # the add's two sides agree


def test_concat_maps_each_branch_to_its_channel_range_and_adds_tie_their_sides():
    torch.manual_seed(0)
    net, x = ConcatNet().eval(), torch.randn(2, 3, 10, 10)
    groups = channel_groups.analyse(net, (x,))
    assert sorted(groups.sizes[r] for r in groups.roots()) == [6, 8, 12]  # a, b, and mix+skip tied
    roots = {groups.sizes[r]: r for r in groups.roots()}
    _zero_channels(net, groups, roots[8], [0, 3])
    _zero_channels(net, groups, roots[6], [5])
    with torch.no_grad():
        before = net(x)
    scores = groups.importance()
    channel_groups.remove(groups, {r: (scores[r] != 0).nonzero().flatten() for r in groups.roots()})
    assert (net.a.out_channels, net.b.out_channels, net.bn.num_features, net.mix.in_channels) == (6, 5, 11, 11)
    with torch.no_grad():
        assert torch.allclose(net(x), before, atol=1e-5)


def test_a_network_output_and_a_reused_module_are_never_pruned():
    class Reuse(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.same = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.same(self.same(self.conv(x)))

    groups = channel_groups.analyse(Reuse(), (torch.randn(1, 3, 4, 4),))
    assert groups.roots() == []
