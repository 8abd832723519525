"""Every shipped target builds the default model into a library for its own machine."""

import json
import subprocess

import pytest

from edgebuild.flows.build import BuildRequest, build
from edgebuild.compile import fatbin, toolchain
from edgebuild.errors import ToolchainError

from ..conftest import ROOT, invoke
from .test_build_rpi4 import elf_machine

pytestmark = pytest.mark.integration
EM_ARM, EM_AARCH64, EM_X86_64 = 40, 183, 62
FATBIN_MAGIC = bytes.fromhex("50ed55ba")  # 0xBA55ED50, little-endian: an embedded CUDA fat binary


@pytest.mark.parametrize("target,machine", [("host", EM_X86_64), ("rpi5", EM_AARCH64), ("arm64", EM_AARCH64),
                                            ("rpi3-armv7", EM_ARM)])
def test_cpu_targets(target, machine, tmp_path):
    done = invoke(ROOT, "build", f"--target={target}", f"--out={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert elf_machine(tmp_path / "model.so") == machine
    assert json.loads((tmp_path / "manifest.json").read_text())["metrics"]["accuracy"] >= 97.0


@pytest.mark.skipif(toolchain.find_nvcc() is None, reason="nvcc (CUDA toolkit) not installed")
def test_jetson_embeds_sass_and_ptx_not_source(tmp_path):
    done = invoke(ROOT, "build", "--target=jetson-orin-nano", f"--out={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert_cuda_bundle(tmp_path, EM_AARCH64, 87)


def assert_cuda_bundle(folder, machine, arch):
    """model.so holds compiled kernels for `arch` (SASS, and PTX for newer GPUs), never CUDA source."""
    library = (folder / "model.so").read_bytes()
    assert elf_machine(folder / "model.so") == machine
    assert FATBIN_MAGIC in library and b"__global__" not in library
    # SASS for the target's GPU, and PTX so that newer GPUs can run it
    kernels = set(fatbin.entries(library))
    assert {fatbin.Entry("sass", arch), fatbin.Entry("ptx", arch)} <= kernels
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["target"]["tvm"]["arch"] == f"sm_{arch}" and "nvcc" in manifest["toolchain"]
    assert manifest["toolchain"]["cuda_toolkit"] == toolchain.cuda_release(
        subprocess.run([manifest["toolchain"]["nvcc_path"], "--version"], capture_output=True, text=True).stdout)


def test_jetson_without_nvcc_fails_before_any_work(project, tmp_path, monkeypatch):
    monkeypatch.setattr(toolchain, "CUDA_DIRS", ())
    for var in ("CUDA_PATH", "CUDA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    request = BuildRequest(target="jetson-orin-nano", out=tmp_path / "b")
    with pytest.raises(ToolchainError, match="needs nvcc \\(the CUDA toolkit\\).*Install the CUDA toolkit"):
        build(project, request, say=lambda line: None)
    assert list(tmp_path.iterdir()) == []
