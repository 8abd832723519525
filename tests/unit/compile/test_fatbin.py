"""Reading the SASS and PTX entries of nvcc's fat binaries (compiled here with the real nvcc)."""

import subprocess

import pytest

from edgebuild.compile import cuda, fatbin, toolchain
from edgebuild.errors import CompileError

KERNEL = 'extern "C" __global__ void add_one(float *a) { a[threadIdx.x] += 1.0f; }\n'
needs_nvcc = pytest.mark.skipif(toolchain.find_nvcc() is None, reason="nvcc (CUDA toolkit) not installed")


def compile_fatbin(tmp_path, flags):
    (tmp_path / "k.cu").write_text(KERNEL)
    out = tmp_path / "k.fatbin"
    subprocess.run([str(toolchain.find_nvcc()), "--fatbin", "-O3", *flags, "-o", str(out), str(tmp_path / "k.cu")],
                   check=True, capture_output=True, timeout=120)
    return out


@needs_nvcc
def test_edgebuild_flags_embed_sass_and_ptx(tmp_path):
    library = tmp_path / "model.so"
    library.write_bytes(b"\x7fELF padding" + compile_fatbin(tmp_path, cuda.gencode("sm_87")).read_bytes() + b"tail")
    assert set(cuda.check_embedded(library, "sm_87")) == {fatbin.Entry("sass", 87), fatbin.Entry("ptx", 87)}


@needs_nvcc
def test_sass_alone_is_refused_naming_the_missing_ptx(tmp_path):
    # what TVM's own callback gives: -gencode arch=compute_87,code=sm_87
    library = compile_fatbin(tmp_path, ["-gencode", "arch=compute_87,code=sm_87"])
    assert fatbin.entries(library.read_bytes()) == [fatbin.Entry("sass", 87)]
    with pytest.raises(CompileError, match=r"k.fatbin lacks the ptx of sm_87 \(it holds: sass 87\)"):
        cuda.check_embedded(library, "sm_87")
    with pytest.raises(CompileError, match=r"lacks the sass and ptx of sm_80"):
        cuda.check_embedded(library, "sm_80")


def test_no_fat_binary_and_a_stray_magic_number_are_told_apart(tmp_path):
    library = tmp_path / "model.so"
    library.write_bytes(b"\x7fELF" + bytes.fromhex("50ed55ba") + b"\x01\x00\x10\x00" + bytes(40))
    assert fatbin.entries(library.read_bytes()) == []
    with pytest.raises(CompileError, match="holds: no fat binary"):
        cuda.check_embedded(library, "sm_87")
