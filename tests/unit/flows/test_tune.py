"""Where `invoke tune` measures and writes: the refusal rules, and emulated records kept out of compile/."""

import pytest

from edgebuild.flows.tune import place
from edgebuild.errors import LookupFailed, UsageError
from edgebuild.project import Project

DEVICES = """
[device.pi-1]
target = "rpi4"
host = "10.0.0.7"
user = "pi"
key-file = "lab_key"

[device.emu]
target = "rpi4"
host = "127.0.0.1"
user = "me"
key-file = "k"
emulated = true

[device.orin]
target = "jetson-orin-nano"
host = "10.0.0.8"
user = "nv"
key-file = "k"
"""


@pytest.fixture
def proj(tmp_project) -> Project:
    (tmp_project.root / "devices").mkdir()
    (tmp_project.root / "devices" / "lab.toml").write_text(DEVICES)
    return tmp_project


def test_host_is_measured_here_into_compile_tuning(proj):
    where = place(proj)
    assert where.device is None and where.records == proj.tuning_dir / "host"


def test_a_foreign_target_without_a_device_is_refused_with_the_way_out(proj):
    with pytest.raises(UsageError, match=r"--target=rpi4: aarch64 code cannot be measured on this machine.*--device=NAME"):
        place(proj, "rpi4")


def test_a_real_device_tunes_its_own_target_into_compile_tuning(proj):
    for target in ("", "rpi4"):
        where = place(proj, target, "pi-1")
        assert where.target.name == "rpi4" and where.device.name == "pi-1" and not where.emulated
        assert where.records == proj.tuning_dir / "rpi4"


def test_an_emulated_devices_records_go_to_the_ignored_build_folder(proj):
    where = place(proj, device="emu")
    assert where.emulated and where.records == proj.build_dir / "tuning-emulated" / "rpi4"


def test_target_and_device_must_agree(proj):
    with pytest.raises(UsageError, match="--target=rpi5 does not match device pi-1, whose target is rpi4"):
        place(proj, "rpi5", "pi-1")


def test_gpu_targets_and_unknown_devices_are_refused(proj):
    with pytest.raises(UsageError, match="orin: its target jetson-orin-nano is a cuda target"):
        place(proj, device="orin")
    with pytest.raises(LookupFailed, match="unknown device 'nope'"):
        place(proj, device="nope")
