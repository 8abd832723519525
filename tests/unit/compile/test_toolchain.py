import importlib.util

import pytest

from edgebuild import targets
from edgebuild.compile import toolchain
from edgebuild.errors import ToolchainError


def test_versions_are_read_without_importing():
    found = toolchain.versions()
    assert found["apache-tvm"].startswith("0.27") and found["apache-tvm-ffi"] < "0.1.15"


def test_find_nvcc_search_order(tmp_path):
    assert toolchain.find_nvcc(env={"PATH": ""}, search=()) is None
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "nvcc").write_text("#!/bin/sh\n")
    assert toolchain.find_nvcc(env={"CUDA_PATH": str(tmp_path)}, search=()) == tmp_path / "bin" / "nvcc"
    assert toolchain.find_nvcc(env={"PATH": ""}, search=(str(tmp_path / "bin"),)) == tmp_path / "bin" / "nvcc"


def test_missing_nvcc_names_what_to_install(project, monkeypatch):
    monkeypatch.setattr(toolchain, "CUDA_DIRS", ())
    for var in ("CUDA_PATH", "CUDA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError, match="needs nvcc \\(the CUDA toolkit\\).*Install the CUDA toolkit"):
        toolchain.require(targets.load(project, "jetson-orin-nano"))
    assert toolchain.require(targets.load(project, "rpi4")) == {}


def test_missing_zig_names_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ziglang" else real(name, *a))
    with pytest.raises(ToolchainError, match="pip install ziglang"):
        toolchain.zig_linker("aarch64-linux-gnu.2.28")


def test_the_cuda_release_is_read_from_nvcc_version():
    text = ("nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2025 NVIDIA Corporation\n"
            "Cuda compilation tools, release 13.0, V13.0.88\nBuild cuda_13.0.r13.0/compiler.36424714_0\n")
    assert toolchain.cuda_release(text) == "13.0"
    assert toolchain.cuda_release("Cuda compilation tools, release 12.6, V12.6.68") == "12.6"
    with pytest.raises(ToolchainError, match="cannot read the CUDA release from `/x/nvcc --version`.*CUDA_PATH"):
        toolchain.cuda_release("nvcc: something else", "/x/nvcc")


@pytest.mark.skipif(toolchain.find_nvcc() is None, reason="nvcc (CUDA toolkit) not installed")
def test_cuda_targets_record_the_toolkit_release(project):
    found = toolchain.require(targets.load(project, "host-cuda"))
    assert found["cuda_toolkit"] in found["nvcc"] and found["cuda_toolkit"].count(".") == 1
