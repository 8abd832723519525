import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgebuild.project import Project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def project() -> Project:
    return Project(ROOT)


@pytest.fixture
def tmp_project(tmp_path) -> Project:
    """A copy of the project's data files and tasks.py, to break without touching the real ones."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "tasks.py", root / "tasks.py")
    for folder in ("targets", "recipes"):
        shutil.copytree(ROOT / folder, root / folder)
    # Share the trained-model cache so tests do not retrain digits-cnn per project copy.
    (root / "build").mkdir()
    (root / "build" / ".cache").symlink_to(_shared_cache(), target_is_directory=True)
    return Project(root)


def _shared_cache() -> Path:
    cache = ROOT / "build" / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def invoke(root: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` in a project folder, as a user would."""
    # This checkout's edgebuild, even when another checkout is pip-installed in editable mode.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout, env=env)


def library_bytes(so: Path) -> bytes:
    """What a compiled library stores: model.so and, beside it, the weights file its constants were lifted into."""
    from edgebuild.compile import weights

    lifted = Path(weights.beside(so))
    return Path(so).read_bytes() + (lifted.read_bytes() if lifted.exists() else b"")


def int8_layouts(weight):
    """The layouts an int8 weight may be stored in: as given, transposed, and packed for each int8
    micro-kernel (compile/int8_matmul.py packs K x N matmul weights into [N/lanes, K/group, lanes, group],
    int8_conv.py conv weights into [Cout/lanes, KH, KW, Cin/group, lanes, group], depthwise as [KH, KW, C])."""
    import numpy as np

    from edgebuild.compile import int8_conv
    from edgebuild.compile.int8_intrin import SCHEMES
    from edgebuild.compile.int8_matmul import fits, pack_weight

    out = [weight, weight.T] if weight.ndim == 2 else [weight]
    if weight.ndim == 2 and weight.dtype == np.int8:
        out += [pack_weight(w, s) for w in (weight, weight.T) for s in SCHEMES.values() if fits(*w.shape, s)]
    if weight.ndim == 4:  # ONNX OIHW conv weights, as compile/int8_conv.py stores them (signed)
        signed = (weight.astype(np.int16) - 128).astype(np.int8) if weight.dtype == np.uint8 else weight
        hwio = signed.transpose(2, 3, 1, 0)
        out += [int8_conv.pack_weight(hwio, s, -(-hwio.shape[2] // s.group) * s.group, -(-hwio.shape[3] // s.lanes) * s.lanes)
                for s in SCHEMES.values()]
        if signed.shape[1] == 1:  # depthwise: [KH, KW, C]
            out.append(hwio[:, :, 0, :])
    return [np.ascontiguousarray(w) for w in out]
