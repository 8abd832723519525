"""Built-in torch models whose weights are made here (trained or seeded), then cached.

Weights live under build/.cache/models keyed by the defining module's source and the library
versions, so a model needs no network and no committed binaries, and a warm build never imports
torch just to fingerprint it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .base import Model, sha256_file


class CachedTorchModel(Model):
    kind = "torch"
    # Packages whose versions can change the produced weights.
    weight_packages: tuple[str, ...] = ("torch", "numpy")

    def __init__(self, cache_dir: Path):
        self.cache_dir = cache_dir

    def network(self):
        """A fresh torch.nn.Module of this architecture."""
        raise NotImplementedError

    def make_weights(self) -> dict[str, np.ndarray]:
        """Deterministically produce the state dict (train, or initialise from a fixed seed)."""
        raise NotImplementedError

    def _weights_key(self) -> str:
        digest = hashlib.sha256(Path(sys.modules[type(self).__module__].__file__).read_bytes())
        digest.update(Path(__file__).read_bytes())  # seeding and caching live here
        digest.update(self.name.encode())
        for package in self.weight_packages:
            digest.update(f"{package}={metadata.version(package)}".encode())
        return digest.hexdigest()[:16]

    def ensure_weights(self) -> Path:
        path = self.cache_dir / "models" / f"{self.name}-{self._weights_key()}.npz"
        if not path.is_file():
            state = self.make_weights()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            with open(tmp, "wb") as f:
                np.savez(f, **state)
            os.replace(tmp, path)
        return path

    def fingerprint(self) -> str:
        return sha256_file(self.ensure_weights())

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": "builtin", "sha256": self.fingerprint()}

    def load(self):
        import torch

        net = self.network()
        with np.load(self.ensure_weights()) as state:
            net.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files})
        return net.eval()


def seeded_weights(network, seed: int = 0, input_shape: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """The state dict of `network()` initialised from a fixed seed (for speed-only models).

    With `input_shape`, batch-norm statistics are then set from one batch of seeded noise, so each
    layer's output keeps unit scale: with the default statistics a deep seeded net's output barely
    depends on its input, and parity checks against it would compare biases only."""
    import torch

    torch.manual_seed(seed)
    net = network()
    if input_shape is not None:
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None  # cumulative average: this one batch's statistics
        net.train()
        with torch.no_grad():
            net(torch.randn((8, *input_shape[1:])))
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
