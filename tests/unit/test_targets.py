import pytest

from edgebuild import targets
from edgebuild.errors import ConfigError, LookupFailed

SHIPPED = {"host", "rpi4", "rpi5", "rpi3-armv7", "arm64", "jetson-orin-nano"}


def test_every_shipped_target_loads(project):
    loaded = {t.name: t for t in targets.folder(project).load_all()}
    assert SHIPPED <= set(loaded)
    assert loaded["rpi4"].tvm["mcpu"] == "cortex-a72" and loaded["rpi4"].arch == "aarch64"
    assert "+dotprod" in loaded["rpi5"].tvm["mattr"]
    assert loaded["rpi3-armv7"].arch == "armv7l" and not loaded["rpi3-armv7"].runtime_wheels
    assert loaded["jetson-orin-nano"].tvm["kind"] == "cuda" and loaded["jetson-orin-nano"].requires == ["nvcc"]
    assert loaded["host"].is_native and not loaded["rpi4"].is_native


def test_unknown_target_lists_the_valid_ones(project):
    with pytest.raises(LookupFailed) as err:
        targets.load(project, "rpi9")
    assert "unknown target 'rpi9'" in str(err.value)
    for name in SHIPPED:
        assert name in str(err.value)


def test_adding_a_board_is_adding_a_file(tmp_project):
    (tmp_project.targets_dir / "my-board.toml").write_text(
        'description = "x"\narch = "aarch64"\ncores = 8\n[tvm]\nkind = "llvm"\nmtriple = "aarch64-linux-gnu"\n'
        '[link]\nzig-target = "aarch64-linux-gnu.2.28"\n'
    )
    assert "my-board" in targets.folder(tmp_project).names()
    assert targets.load(tmp_project, "my-board").cores == 8


def test_invalid_values_name_file_and_key(tmp_project):
    path = tmp_project.targets_dir / "bad.toml"
    path.write_text('description = "x"\narch = "aarch64"\ncores = 0\n[tvm]\nkind = "llvm"\n[link]\nzig-target = "a"\n')
    with pytest.raises(ConfigError, match=rf"{path}: key 'cores': must be >= 1"):
        targets.load(tmp_project, "bad")
    path.write_text('description = "x"\narch = "aarch64"\ncores = 1\n[tvm]\nkind = "cuda"\n[link]\nzig-target = "a"\n')
    with pytest.raises(ConfigError, match="needs a \\[host\\] TVM target"):
        targets.load(tmp_project, "bad")


def test_cpu_fingerprint_is_stable():
    assert targets.host_cpu_fingerprint() == targets.host_cpu_fingerprint()
