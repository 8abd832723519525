"""The host-cuda path end to end: build with nvcc, the device runtime from PyPI's wheels, the agent.

Everything but the run on a GPU works on any machine with nvcc: without a driver the build host's
libcuda stub stands in, so the agent's loading order (driver, shipped libcudart, TVM's CUDA runtime,
then model.so) is exercised on the real runtime bundle. The GPU run skips where no GPU is present.
"""

import ctypes
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from edgebuild.compile import cuda, toolchain
from edgebuild.lab import jetson, runtime
from edgebuild.lab.device import agent_source
from edgebuild.project import Project

from ..conftest import ROOT, invoke
from .test_build_targets import EM_X86_64, assert_cuda_bundle

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(toolchain.find_nvcc() is None, reason="nvcc (CUDA toolkit) not installed")]
PYTHON = tuple(sys.version_info[:2])


def gpu_absent() -> str | None:
    """Why no CUDA code can run here, or None when an NVIDIA driver sees a GPU."""
    try:
        driver = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver here (libcuda.so.1 cannot be loaded): the run on a GPU needs one"
    count = ctypes.c_int()
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "the NVIDIA driver sees no GPU here: the run on a GPU needs one"
    return None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("host-cuda") / "bundle"
    done = invoke(ROOT, "build", "--target=host-cuda", f"--out={out}")
    assert done.returncode == 0, done.stderr
    return out


def unpacked(arch: str, dest: Path) -> Path:
    """The real CUDA runtime bundle for this Python, as `invoke lab.provision` ships it, unpacked."""
    built = runtime.prepare(Project(ROOT), arch, PYTHON, say=lambda line: None, kind="tvm-cuda")
    with tarfile.open(built.archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "site"


def run_agent(bundle: Path, site: Path, preload: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **({"LD_PRELOAD": preload} if preload else {})}
    return subprocess.run([sys.executable, "-I", "-", str(bundle), str(site), "20", "0", "2"], input=agent_source(),
                          capture_output=True, text=True, env=env, timeout=300)


def test_host_cuda_embeds_sass_and_ptx(bundle):
    assert_cuda_bundle(bundle, EM_X86_64, 80)


def test_the_jetson_runtime_ships_tvm_cuda_and_the_libcudart_it_links():
    built = runtime.prepare(Project(ROOT), "aarch64", (3, 11), say=lambda line: None, kind="tvm-cuda")
    with tarfile.open(built.archive) as tar:
        names = set(tar.getnames())
    assert {"site/tvm/lib/libtvm_runtime_cuda.so", f"site/nvidia/cu{runtime.CUDA_MAJOR}/lib/"
            f"libcudart.so.{runtime.CUDA_MAJOR}"} <= names and "site/tvm/lib/libtvm_compiler.so" not in names
    assert built.versions["nvidia_cuda_runtime"].startswith(f"{runtime.CUDA_MAJOR}.")


@pytest.mark.skipif(gpu_absent() is None, reason="a GPU is present: test_host_cuda_runs_on_the_gpu runs instead")
def test_the_device_runtime_loads_a_cuda_bundle_then_says_there_is_no_gpu(bundle, tmp_path):
    site = unpacked("x86_64", tmp_path)
    stub = str(cuda._stub(Project(ROOT).cache_dir))  # the build host's driver stand-in: no GPU behind it
    done = run_agent(bundle, site, preload=stub)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no CUDA device is visible: the NVIDIA driver sees no GPU" in done.stderr
    # the order the agent relies on: a runtime-only TVM loads a CUDA model.so only after load_cuda
    probe = f"""
import os, sys
os.environ["TVM_USE_RUNTIME_LIB"] = "1"
sys.path.insert(0, {str(site)!r})
import tvm
exec({(Path(cuda.__file__).parents[1] / "lab" / "device" / "gpu.py").read_text()!r})
try:
    tvm.runtime.load_module({str(bundle / "model.so")!r})
    print("loaded before")
except Exception:
    print("refused before")
print(load_cuda(tvm, {str(site)!r}, "13.0"))
tvm.runtime.load_module({str(bundle / "model.so")!r})
print("loaded after")
"""
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ.get("PATH", ""), "LD_PRELOAD": stub})
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "refused before" and lines[-1] == "loaded after"
    assert f"'runtime': '{runtime.CUDA_MAJOR}." in lines[1]


@pytest.mark.skipif(gpu_absent() is not None, reason=gpu_absent() or "")
def test_host_cuda_runs_on_the_gpu(bundle, tmp_path):
    site = unpacked("x86_64", tmp_path)
    done = run_agent(bundle, site)
    assert done.returncode == 0, done.stderr
    result = json.loads(next(line for line in done.stdout.splitlines()
                             if line.startswith("EDGEBUILD-RESULT "))[len("EDGEBUILD-RESULT "):])
    assert result["ok"], result["error"]
    assert result["device_kind"] == "cuda" and len(result["times_ms"]) >= 20
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert result["cuda"]["toolkit"] == manifest["toolchain"]["cuda_toolkit"] and result["cuda"]["driver"]
    gpu = jetson.gpu_summary(result)
    assert gpu["memory_bytes"] is not None and gpu["memory_bytes"] >= 0
