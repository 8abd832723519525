"""Channel dependency groups of a CNN, found by tracing it with torch.fx, and their joint removal.

Every Conv2d (groups = 1) and Linear output starts a channel *space*. Operations that keep channels
(BatchNorm, activations, pooling, a depthwise conv, flattening a 1x1 map) pass their input's
layout on; a concat lays spaces side by side (a layout is a list of (space, size) segments); an
elementwise add of two tensors ties their spaces into one *group*, which must keep the same
channels. Whatever the tracer cannot account for (the network's output, a reshape, an unknown
module, a module called twice) makes the spaces it touches unprunable.

A group's channel importance is summed over everything that writes it: per filter, the L1 norm of
the weights times the |scale| of a BatchNorm that directly follows, plus the |shift| that the conv
bias and BatchNorm add. An importance of exactly zero therefore means every writer emits zeros in
that channel, and removing it leaves the network's outputs unchanged.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

from ..errors import ModelError

_PASS_MODULES = ("ReLU", "ReLU6", "SiLU", "Hardswish", "Hardsigmoid", "Sigmoid", "GELU", "Identity", "Dropout",
                 "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")
_PASS_FUNCTIONS = ("relu", "relu6", "silu", "gelu", "sigmoid", "hardswish", "dropout", "max_pool2d",
                   "avg_pool2d", "adaptive_avg_pool2d")
_TIE_FUNCTIONS = (operator.add, operator.mul, operator.sub)  # elementwise: both operands share channels


@dataclass
class Groups:
    """The analysis of one traced network: spaces, their ties, and the modules that use each layout."""

    graph_module: object
    sizes: list[int] = field(default_factory=list)  # space -> channel count
    parent: list[int] = field(default_factory=list)  # union-find over spaces
    frozen: set[int] = field(default_factory=set)
    producers: list[tuple[str, int]] = field(default_factory=list)  # (module, space) writing dim 0
    members: list[tuple[str, tuple]] = field(default_factory=list)  # (module, layout): BN / depthwise conv
    consumers: list[tuple[str, tuple]] = field(default_factory=list)  # (module, input layout): dim 1
    writers: dict[str, str | None] = field(default_factory=dict)  # scored conv/linear -> BatchNorm right after

    def space(self, size: int, frozen: bool = False) -> tuple:
        self.sizes.append(size)
        self.parent.append(len(self.parent))
        if frozen:
            self.frozen.add(len(self.sizes) - 1)
        return ((len(self.sizes) - 1, size),)

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def tie(self, a: tuple, b: tuple) -> None:
        if [n for _, n in a] != [n for _, n in b]:
            self.freeze(a)
            self.freeze(b)
            return
        for (sa, _), (sb, _) in zip(a, b):
            self.parent[self.find(sa)] = self.find(sb)

    def freeze(self, layout) -> None:
        for s, _ in layout or ():
            self.frozen.add(s)

    def roots(self) -> list[int]:
        """The prunable groups (one root space each), in a stable order."""
        frozen = {self.find(s) for s in self.frozen}
        return sorted({self.find(s) for s in range(len(self.sizes))} - frozen)

    def importance(self) -> dict[int, object]:
        """Root -> summed per-channel importance of every writer of that group."""
        import torch

        out: dict[int, object] = {}
        modules = dict(self.graph_module.named_modules())
        layouts = {name: ((s, self.sizes[s]),) for name, s in self.producers} | dict(self.members)
        for name, bn in self.writers.items():
            score, start = _score(modules[name], modules.get(bn)), 0
            for s, n in layouts[name]:
                root = self.find(s)
                out[root] = out.get(root, torch.zeros(n)) + score[start:start + n]
                start += n
        return out


def analyse(net, example: tuple) -> Groups:
    """Trace `net` on `example` inputs and find its channel groups."""
    import torch
    import torch.nn as nn
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = symbolic_trace(net)
    except Exception as exc:  # noqa: BLE001 - any tracing failure means: not a graph we can analyse
        raise ModelError(f"prune-channels could not trace this network with torch.fx ({exc})") from None
    training = gm.training
    with torch.no_grad():  # shapes only: eval mode, so BatchNorm statistics stay as they are
        ShapeProp(gm.eval()).propagate(*example)
    gm.train(training)
    g = Groups(gm)
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    layout: dict[object, tuple] = {}

    def shape(node):
        meta = node.meta.get("tensor_meta")
        return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None

    def opaque(node, inputs):
        for i in inputs:
            g.freeze(layout.get(i))
        dims = shape(node)
        return g.space(dims[1] if dims and len(dims) > 1 else 1, frozen=True)

    for node in gm.graph.nodes:
        ins = [a for a in node.all_input_nodes]
        if node.op == "placeholder":
            layout[node] = opaque(node, [])
        elif node.op == "output":
            for i in ins:
                g.freeze(layout.get(i))
        elif node.op == "call_module":
            m, name = modules[node.target], node.target
            src = layout.get(ins[0]) if ins else None
            if calls[name] > 1 or len(ins) != 1 or src is None:
                layout[node] = opaque(node, ins)
            elif isinstance(m, nn.Conv2d) and m.groups == 1:
                g.consumers.append((name, src))
                layout[node] = g.space(m.out_channels)
                g.producers.append((name, layout[node][0][0]))
                g.writers[name] = None
            elif isinstance(m, nn.Conv2d) and m.groups == m.in_channels == m.out_channels:
                g.members.append((name, src))
                layout[node] = src
                g.writers[name] = None
            elif isinstance(m, nn.Linear) and len(shape(ins[0]) or ()) == 2:
                g.consumers.append((name, src))
                layout[node] = g.space(m.out_features)
                g.producers.append((name, layout[node][0][0]))
                g.writers[name] = None
            elif isinstance(m, nn.BatchNorm2d):
                g.members.append((name, src))
                layout[node] = src
                source = ins[0]
                if source.op == "call_module" and source.target in g.writers and len(source.users) == 1:
                    g.writers[source.target] = name
            elif type(m).__name__ in _PASS_MODULES:
                layout[node] = src
            elif isinstance(m, nn.Flatten) and _flat_channels(shape(ins[0]), m.start_dim):
                layout[node] = src
            else:
                layout[node] = opaque(node, ins)
        elif node.op == "call_function" and node.target in _TIE_FUNCTIONS:
            tensors = [layout[i] for i in ins if i in layout]
            for other in tensors[1:]:
                g.tie(tensors[0], other)
            layout[node] = tensors[0] if tensors else opaque(node, ins)
        elif node.op == "call_function" and node.target is torch.cat and _cat_dim(node) == 1:
            layout[node] = sum((layout[i] for i in node.args[0]), ())
        elif node.op == "call_function" and node.target is torch.flatten and len(ins) == 1 and \
                _flat_channels(shape(ins[0]), node.args[1] if len(node.args) > 1 else 0):
            layout[node] = layout[ins[0]]
        elif node.op in ("call_function", "call_method") and len(ins) == 1 and \
                getattr(node.target, "__name__", node.target) in _PASS_FUNCTIONS:
            layout[node] = layout[ins[0]]
        else:
            layout[node] = opaque(node, ins)
    return g


def _score(layer, bn):
    """Per output channel: L1 of the filter times the |scale| of a BatchNorm right after, plus |shift|."""
    import torch

    w = layer.weight.detach()
    l1 = w.abs().reshape(w.shape[0], -1).sum(dim=1)
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros_like(l1)
    if bn is None:
        return l1 + bias.abs()
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    return l1 * scale.abs() + (bn.bias.detach() + scale * (bias - bn.running_mean)).abs()


def _flat_channels(dims, start_dim: int) -> bool:
    """Flattening keeps channel order only when everything after the channels is size 1."""
    return dims is not None and start_dim == 1 and len(dims) >= 2 and all(d == 1 for d in dims[2:])


def _cat_dim(node) -> int:
    return node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)


def remove(g: Groups, kept: dict[int, object]) -> None:
    """Physically remove every channel not in `kept` (root -> sorted kept indices), in place."""
    import torch

    modules = dict(g.graph_module.named_modules())

    def index(layout) -> object:
        parts, start = [], 0
        for s, n in layout:
            root = g.find(s)
            parts.append(start + (kept[root] if root in kept else torch.arange(n)))
            start += n
        return torch.cat(parts)

    for name, s in g.producers:
        idx = index(((s, g.sizes[s]),))
        _resize(modules[name], 0, idx)
    for name, layout in g.members:
        _resize(modules[name], 0, index(layout))
    for name, layout in g.consumers:
        _resize(modules[name], 1, index(layout))


def slice_param(layer, name: str, dim: int, idx) -> None:
    """Keep entries `idx` of `layer.name` along `dim` (a parameter stays a parameter, a buffer a buffer)."""
    import torch

    tensor = getattr(layer, name, None)
    if tensor is None:
        return
    new = tensor.detach().index_select(dim, idx).clone()
    if isinstance(tensor, torch.nn.Parameter):
        setattr(layer, name, torch.nn.Parameter(new, requires_grad=tensor.requires_grad))
    else:
        layer.register_buffer(name, new)


def _resize(layer, dim: int, idx) -> None:
    import torch.nn as nn

    n = len(idx)
    if isinstance(layer, nn.BatchNorm2d):
        for name in ("weight", "bias", "running_mean", "running_var"):
            slice_param(layer, name, 0, idx)
        layer.num_features = n
        return
    slice_param(layer, "weight", dim, idx)
    if dim == 0:
        slice_param(layer, "bias", 0, idx)
    if isinstance(layer, nn.Linear):
        setattr(layer, "out_features" if dim == 0 else "in_features", n)
    elif layer.groups > 1:  # depthwise: one filter per channel
        layer.in_channels = layer.out_channels = layer.groups = n
    else:
        setattr(layer, "out_channels" if dim == 0 else "in_channels", n)
