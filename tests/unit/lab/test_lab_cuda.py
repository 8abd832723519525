"""CUDA bundles (Jetson, host-cuda): what runs here without a GPU; the GPU run itself skips with the reason."""

import pytest

from edgebuild import targets
from edgebuild.lab import runtime
from edgebuild.lab.device import source

from .test_lab_runtime import fake_wheel


@pytest.mark.parametrize("name,kind", [("jetson-orin-nano", "tvm-cuda"), ("host-cuda", "tvm-cuda"), ("rpi4", "tvm"),
                                       ("host", "tvm")])
def test_cuda_targets_get_the_cuda_runtime_library(lab_project, tmp_path, name, kind):
    target = targets.load(lab_project, name)
    assert runtime.kind_for(target) == kind
    wheel = tmp_path / "apache_tvm-0.27.0-py3-none-manylinux_2_28_aarch64.whl"
    fake_wheel(wheel, {"tvm/lib/libtvm_runtime.so": b"rt", "tvm/lib/libtvm_runtime_cuda.so": b"cu",
                       "tvm/lib/libtvm_compiler.so": b"c"})
    archive = runtime._pack([wheel], tmp_path / "a.tar.gz", runtime.excluded_files(kind))[0]
    import tarfile

    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert ("site/tvm/lib/libtvm_runtime_cuda.so" in names) == (kind == "tvm-cuda")
    assert "site/tvm/lib/libtvm_compiler.so" not in names


def gpu_namespace():
    namespace = {}
    exec(compile(source("gpu.py"), "gpu.py", "exec"), namespace)
    return namespace


def test_the_agent_picks_the_device_from_the_manifest():
    import tvm

    pick = gpu_namespace()["pick_device"]
    device, kind = pick(tvm, {"target": {"tvm": {"kind": "llvm"}}})
    assert kind == "llvm" and device == tvm.cpu()
    if tvm.cuda(0).exist:
        device, kind = pick(tvm, {"target": {"tvm": {"kind": "cuda"}}})
        assert kind == "cuda" and device == tvm.cuda(0)
    else:  # no NVIDIA driver or GPU here: a clear refusal, not a crash inside the runtime
        with pytest.raises(SystemExit, match="no CUDA device is visible: no NVIDIA driver"):
            pick(tvm, {"target": {"tvm": {"kind": "cuda"}}})


def test_the_agent_synchronises_the_device_before_reading_the_clock():
    text = source("agent.py")
    body = text[text.index("def run_once():"):text.index("got = as_list")]
    assert body.index("main(*args)") < body.index("device.sync()")
    loop = text[text.index("while len(times) < MAX_RUNS"):]
    assert loop.index("run_once()") < loop.index("times.append((time.perf_counter() - t)")
