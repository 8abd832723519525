"""A YOLOv8n-style detector (320x320) for speed work on a shape the schedule rules were not written for.

SiLU activations, C2f blocks (split + concat), an SPPF block of 5x5 max-pools, nearest upsampling
with concatenation, channel counts of 24/40/80/160 and 65-channel heads (not a multiple of any
vector width). Weights are seeded: it measures compile and runtime speed, not accuracy.
"""

from __future__ import annotations

from .base import TensorSpec
from .vision import _VisionNet


def _cbs(cin, cout, k=3, stride=1):
    import torch.nn as nn

    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU())


def tiny_detector(heads: int = 65):
    import torch
    import torch.nn as nn

    class C2f(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            half = cout // 2
            self.cv1, self.m, self.cv2 = _cbs(cin, 2 * half, 1), nn.Sequential(_cbs(half, half), _cbs(half, half)), \
                _cbs(3 * half, cout, 1)

        def forward(self, x):
            a, b = self.cv1(x).chunk(2, 1)
            return self.cv2(torch.cat([a, b, self.m(b)], 1))

    class SPPF(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a, self.pool, self.b = _cbs(c, c // 2, 1), nn.MaxPool2d(5, 1, 2), _cbs(c * 2, c, 1)

        def forward(self, x):
            x = self.a(x)
            y1 = self.pool(x)
            y2 = self.pool(y1)
            return self.b(torch.cat([x, y1, y2, self.pool(y2)], 1))

    class Detector(nn.Module):
        def __init__(self):
            super().__init__()
            self.p3 = nn.Sequential(_cbs(3, 16, 3, 2), _cbs(16, 24, 3, 2), C2f(24, 24), _cbs(24, 40, 3, 2), C2f(40, 40))
            self.p4 = nn.Sequential(_cbs(40, 80, 3, 2), C2f(80, 80))
            self.p5 = nn.Sequential(_cbs(80, 160, 3, 2), C2f(160, 160), SPPF(160))
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.neck = C2f(160 + 80, 80)
            self.head4, self.head5 = nn.Conv2d(80, heads, 1), nn.Conv2d(160, heads, 1)

        def forward(self, x):
            p4 = self.p4(self.p3(x))
            p5 = self.p5(p4)
            n = self.neck(torch.cat([self.up(p5), p4], 1))
            return torch.cat([self.head4(n).flatten(2), self.head5(self.up(p5)).flatten(2)], 2)

    return Detector()


class TinyDetector(_VisionNet):
    name = "tinydet"
    output_names = ["detections"]
    architecture = staticmethod(tiny_detector)

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("image", (1, 3, 320, 320), "float32")]
