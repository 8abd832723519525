import tarfile
import zipfile

import pytest

from edgebuild.errors import DeviceError
from edgebuild.lab import runtime
from edgebuild.models.base import sha256_file


def test_refuses_old_python_clearly():
    with pytest.raises(DeviceError, match=r"pi: its Python is 3\.9\.2; the TVM runtime needs Python >= 3\.10"):
        runtime.check_supported("aarch64", (3, 9, 2), "pi")


def test_armv7l_has_no_runtime():
    with pytest.raises(DeviceError, match="no TVM runtime is available for armv7l.*still work"):
        runtime.check_supported("armv7l", (3, 11, 2), "pi3")


def test_supported():
    runtime.check_supported("aarch64", (3, 10, 0), "pi")
    runtime.check_supported("x86_64", (3, 12, 1), "pc")


def test_requirements_pin_the_host_tvm():
    from importlib import metadata

    reqs = runtime.requirements()
    assert f"apache-tvm=={metadata.version('apache-tvm')}" in reqs
    assert f"apache-tvm-ffi=={metadata.version('apache-tvm-ffi')}" in reqs
    assert {"numpy", "ml-dtypes", "typing_extensions"} <= set(reqs)


def fake_wheel(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def test_pack_leaves_out_the_compiler_and_is_reproducible(tmp_path):
    wheel = tmp_path / "apache_tvm-0.27.0-py3-none-manylinux_2_28_aarch64.whl"
    fake_wheel(wheel, {"tvm/__init__.py": "x", "tvm/lib/libtvm_runtime.so": b"rt", "tvm/lib/libtvm_compiler.so": b"c",
                       "tvm/3rdparty/big.h": "h", "tvm_ffi/include/a.h": "h", "numpy/lib/libnpymath.a": "a",
                       "tvm_ffi/lib/libtvm_ffi_testing.so": b"t"})
    a, files, size, versions = runtime._pack([wheel], tmp_path / "a.tar.gz")
    b = runtime._pack([wheel], tmp_path / "b.tar.gz")[0]
    assert sha256_file(a) == sha256_file(b)
    with tarfile.open(a) as tar:
        names = sorted(tar.getnames())
    assert names == ["site/tvm/__init__.py", "site/tvm/lib/libtvm_runtime.so", "site/tvm_ffi/lib/libtvm_ffi_testing.so"]
    assert versions == {"apache_tvm": "0.27.0"} and files == 3


def test_the_onnxruntime_baseline_bundle_packs_without_any_tvm_library(lab_project, monkeypatch):
    """ONNX Runtime's device bundle excludes nothing and holds no TVM: no CUDA check applies to it."""
    def download(dest, arch, pyver, reqs, say, no_deps=False):
        dest.mkdir(parents=True, exist_ok=True)
        fake_wheel(dest / "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl",
                   {"onnxruntime/__init__.py": "x", "onnxruntime/capi/onnxruntime_pybind11_state.so": b"ort"})
    monkeypatch.setattr(runtime, "_download", download)
    bundle = runtime.prepare(lab_project, "aarch64", (3, 11, 2), say=lambda s: None, kind="onnxruntime")
    assert bundle.files == 2 and bundle.versions == {"onnxruntime": "1.32.0"}


def test_a_corrupted_cached_runtime_is_detected_and_repacked(lab_project, monkeypatch):
    def download(dest, arch, pyver, reqs, say, no_deps=False):
        dest.mkdir(parents=True, exist_ok=True)
        fake_wheel(dest / "apache_tvm-0.27.0-py3-none-manylinux_2_28_aarch64.whl", {"tvm/lib/libtvm_runtime.so": b"rt"})
    monkeypatch.setattr(runtime, "_download", download)
    first = runtime.prepare(lab_project, "aarch64", (3, 11, 2), say=lambda s: None)
    with open(first.archive, "r+b") as f:
        f.seek(20)
        f.write(b"\0\0\0\0")
    said = []
    again = runtime.prepare(lab_project, "aarch64", (3, 11, 2), say=said.append)
    assert sha256_file(again.archive) == again.id == first.id and any("corrupt" in s for s in said)
