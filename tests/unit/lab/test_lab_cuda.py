"""CUDA bundles (Jetson, host-cuda): what runs here without a GPU; the GPU run itself skips with the reason."""

import ctypes
import importlib.util
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from edgebuild import targets
from edgebuild.errors import DeviceError
from edgebuild.lab import runtime
from edgebuild.lab.device import agent_source, source

from .test_lab_runtime import fake_wheel


TVM_CUDA = b"\x00libtvm_runtime.so\x00libcudart.so.13\x00libcuda.so.1\x00"  # a .dynstr as the wheel's has


def pack(tmp_path, kind, cudart="libcudart.so.13"):
    tvm_wheel = tmp_path / "apache_tvm-0.27.0-py3-none-manylinux_2_28_aarch64.whl"
    fake_wheel(tvm_wheel, {"tvm/lib/libtvm_runtime.so": b"rt", "tvm/lib/libtvm_runtime_cuda.so": TVM_CUDA,
                           "tvm/lib/libtvm_compiler.so": b"c"})
    cuda_wheel = tmp_path / "nvidia_cuda_runtime-13.0.96-py3-none-manylinux2014_aarch64.whl"
    fake_wheel(cuda_wheel, {f"nvidia/cu13/lib/{cudart}": b"cudart", "nvidia/cu13/lib/libcudart_static.a": b"a",
                            "nvidia/cu13/include/cuda.h": b"h"})
    archive = runtime._pack([tvm_wheel, cuda_wheel], tmp_path / "a.tar.gz", runtime.excluded_files(kind),
                            cuda=kind == "tvm-cuda")[0]
    with tarfile.open(archive) as tar:
        return set(tar.getnames())


@pytest.mark.parametrize("name,kind", [("jetson-orin-nano", "tvm-cuda"), ("host-cuda", "tvm-cuda"), ("rpi4", "tvm"),
                                       ("host", "tvm")])
def test_cuda_targets_get_the_cuda_runtime_library(lab_project, tmp_path, name, kind):
    target = targets.load(lab_project, name)
    assert runtime.kind_for(target) == kind
    names = pack(tmp_path, kind)
    assert ("site/tvm/lib/libtvm_runtime_cuda.so" in names) == (kind == "tvm-cuda")
    assert "site/tvm/lib/libtvm_compiler.so" not in names
    # the CUDA runtime library itself, without the toolkit's headers and static libraries
    assert "site/nvidia/cu13/lib/libcudart.so.13" in names
    assert not any("include" in n or n.endswith(".a") for n in names)
    assert (runtime.CUDA_RUNTIME in runtime.requirements(kind)) == (kind == "tvm-cuda")


def test_a_cuda_runtime_wheel_without_the_libcudart_tvm_needs_is_refused(tmp_path):
    with pytest.raises(DeviceError, match=r"libtvm_runtime_cuda.so needs libcudart.so.13, and the CUDA runtime wheel "
                                          r"\(nvidia-cuda-runtime==13.\*\) provides libcudart.so.12"):
        pack(tmp_path, "tvm-cuda", cudart="libcudart.so.12")


def test_the_installed_tvm_cuda_runtime_links_the_cudart_major_that_is_shipped():
    tvm_dir = Path(importlib.util.find_spec("tvm").origin).parent  # without importing TVM (seconds)
    library = (tvm_dir / "lib" / runtime.CUDA_LIBRARY).read_bytes()
    assert f"libcudart.so.{runtime.CUDA_MAJOR}\x00".encode() in library


def gpu_namespace():
    namespace = {}
    exec(compile(source("gpu.py"), "gpu.py", "exec"), namespace)
    return namespace


def driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def test_the_agent_runs_cpu_bundles_on_the_cpu():
    import tvm

    device, kind, cuda = gpu_namespace()["pick_device"](tvm, {"target": {"tvm": {"kind": "llvm"}}}, "/nonexistent")
    assert (kind, cuda) == ("llvm", None) and device == tvm.cpu()


def cuda_bundle(folder):
    folder.mkdir()
    manifest = {"target": {"name": "host-cuda", "tvm": {"kind": "cuda", "arch": "sm_80"}},
                "toolchain": {"cuda_toolkit": "13.0"}, "inputs": [{"name": "x"}], "outputs": [{"name": "y"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    np.savez(folder / "reference.npz", **{"input/x": np.zeros(2, "float32"), "output/y": np.zeros(2, "float32")})
    return folder


@pytest.mark.skipif(driver_present(), reason="this machine has an NVIDIA driver: the GPU run test covers it")
def test_the_agent_refuses_a_cuda_bundle_without_a_driver_clearly(tmp_path):
    # the real agent script, as a device runs it: stops before loading model.so, no traceback
    done = subprocess.run([sys.executable, "-", str(cuda_bundle(tmp_path / "b")), str(tmp_path / "site"), "3", "0", "0"],
                          input=agent_source(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "this bundle is for a CUDA GPU, and no CUDA device is visible: no NVIDIA driver (libcuda.so.1 cannot be " \
           "loaded" in done.stderr and "build for a CPU target" in done.stderr


@pytest.mark.parametrize("toolkit,runtime,driver,says", [
    ("13.0", "13.0", "12.6", ["driver supports CUDA 12.6", "libcudart 13.0) needs an NVIDIA driver for CUDA 13.0",
                              "nvcc 13.0 (CUDA 13)", "JetPack 7", "compatibility package for Orin",
                              "built from source against CUDA 12.6"]),
    ("12.6", "13.0", "12.2", ["libcudart 13.0) needs", "driver for CUDA 13"]),
    ("13.0", "12.8", "12.8", ["nvcc 13.0 (CUDA 13)", "driver for CUDA 13"]),
])
def test_a_driver_older_than_the_bundle_or_its_runtime_is_refused_with_the_versions(toolkit, runtime, driver, says):
    message = gpu_namespace()["cuda_problem"](toolkit, runtime, driver)
    for part in says:
        assert part in message


@pytest.mark.parametrize("toolkit,runtime,driver", [("13.0", "13.0", "13.0"), ("13.0", "13.0", "13.2"),
                                                    ("13.2", "13.5", "13.0"), ("12.6", "13.0", "14.0"),
                                                    ("13.0", "13.0", None)])
def test_a_driver_of_the_same_cuda_major_or_newer_runs(toolkit, runtime, driver):
    # CUDA's minor-version compatibility: a 13.x runtime and 13.x kernels run on any driver for CUDA 13
    assert gpu_namespace()["cuda_problem"](toolkit, runtime, driver) is None


def test_cuda_versions_read_as_the_api_reports_them():
    dotted = gpu_namespace()["dotted"]
    assert (dotted(13000), dotted(12060), dotted(12020), dotted(None)) == ("13.0", "12.6", "12.2", None)


def test_the_agent_synchronises_the_device_before_reading_the_clock():
    text = source("agent.py")
    body = text[text.index("def run_once():"):text.index("parity = judge(")]
    assert body.index("main(*args)") < body.index("device.sync()")
    loop = text[text.index("while len(times) < MAX_RUNS"):]
    assert loop.index("run_once()") < loop.index("times.append((time.perf_counter() - t)")
