"""One released matrix shared by the release tests: digits-cnn and a tiny ONNX model, recipes none and
int8-static, targets x86-64-v3 (a named CPU) and rpi4, built on a 2-worker LocalCluster; the rpi4
bundles are profiled on the emulated Pi 4 (rpi4-emu: qemu-aarch64 behind a real sshd on 127.0.0.1).
"""

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edgebuild.lab import emulate, provision
from edgebuild.project import Project

ROOT = Path(__file__).resolve().parents[3]
MISSING = [t for t in ("qemu-aarch64", "sshd") if not (shutil.which(t) or Path(f"/usr/sbin/{t}").exists())]

pytestmark = pytest.mark.integration

PLAN = """
description = "release tests"
models = ["digits-cnn", "models/tiny.onnx"]
recipes = ["none", "int8-static"]
targets = ["x86-64-v3", "rpi4"]
[calibration]
"models/tiny.onnx" = "random"
[devices]
rpi4 = ["rpi4-emu"]
[profiling]
blocks = 2
runs = 5
warmup = 1
"""


def tiny_onnx(path: Path) -> None:
    """A 16 -> 32 -> 8 MLP with fixed weights: the smallest graph both recipes quantize."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((16, 32)).astype(np.float32), rng.standard_normal((32, 8)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
                              [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def make_project(root: Path) -> Project:
    """A committed copy of the project's data files with the test plan and the emulated Pi registered."""
    root.mkdir(parents=True)
    for name in ("tasks.py", ".gitignore"):
        shutil.copy(ROOT / name, root / name)
    for folder in ("targets", "recipes", "devices"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("local.toml", "*.local", "dask-tls"))
    (root / "releases").mkdir()
    (root / "releases" / "test.toml").write_text(PLAN)
    (root / "models").mkdir()
    tiny_onnx(root / "models" / "tiny.onnx")
    # Bundles persist across sessions in the checkout's build/ (a CI clone builds them once), beside the
    # shared trained models and emulator; the build cache keys on content, not on the project's path.
    builds = ROOT / "build" / "release-tests"
    builds.mkdir(parents=True, exist_ok=True)
    if not (builds / ".cache").exists():
        (ROOT / "build" / ".cache").mkdir(exist_ok=True)
        (builds / ".cache").symlink_to(ROOT / "build" / ".cache", target_is_directory=True)
    (root / "build").symlink_to(builds, target_is_directory=True)
    project = Project(root)
    git(root, "init", "-q")
    (root / ".git" / "info" / "exclude").write_text("/build\n")  # a symlink here, which "/build/" misses
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "project")
    return project


@dataclass
class Released:
    project: Project
    folder: Path
    seconds: float


@pytest.fixture(scope="session")
def released(tmp_path_factory) -> Released:
    if MISSING:
        pytest.skip(f"the emulated device needs {' and '.join(MISSING)}: apt-get install -y qemu-user openssh-server")
    from edgebuild.flows.release.release import ReleaseRequest, release

    project = make_project(tmp_path_factory.mktemp("rel") / "proj")
    quiet = lambda s: None  # noqa: E731
    was_running = emulate.running_pid(emulate.Emulator.of(project)) is not None
    device = emulate.start(project, say=quiet)
    provision.provision(project, device.name, say=quiet)
    began = time.monotonic()
    folder = release(project, ReleaseRequest(plan="test", version="1.0.0", workers=2), say=print)
    yield Released(project, folder, time.monotonic() - began)
    if not was_running:
        emulate.stop(project, device.name, say=quiet)
