import pytest

from edgebuild.errors import ConfigError, LookupFailed
from edgebuild.lab import inventory
from edgebuild.lab.inventory import Device

LAB = """
[device.pi-07]
target = "rpi4"
host = "pi-07.lab"
user = "edge"
key-file = "keys/lab"
tags = ["pi", "rack-a"]

[device.pi-08]
target = "rpi4"
host = "pi-08.lab"
user = "edge"
key-file = "~/.ssh/lab"
port = 2222
python = ["/usr/bin/python3.11"]
tags = ["pi"]

[device.orin]
target = "jetson-orin-nano"
host = "10.0.0.5"
user = "edge"
key-file = "/etc/lab/key"
"""


def write(project, name, text):
    (project.root / "devices" / name).write_text(text)


def test_committed_lab_file_loads(lab_project):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    assert inventory.load_file(root / "devices" / "lab.toml") == {}  # an example lab: entries commented


def test_select_by_name_tag_and_all(lab_project):
    write(lab_project, "lab.toml", LAB)
    inv = inventory.load(lab_project)
    assert [d.name for d in inv.select("pi-07")] == ["pi-07"]
    assert [d.name for d in inv.select("pi")] == ["pi-07", "pi-08"]
    assert [d.name for d in inv.select("all")] == ["orin", "pi-07", "pi-08"]
    assert inv.get("pi-08").port == 2222 and inv.get("pi-07").port == 22
    assert inv.get("pi-07").python == ["python3"]
    assert inv.key_path(inv.get("pi-07")) == lab_project.root / "devices" / "keys" / "lab"
    assert str(inv.key_path(inv.get("orin"))) == "/etc/lab/key"


def test_unknown_selector_lists_devices_and_tags(lab_project):
    write(lab_project, "lab.toml", LAB)
    with pytest.raises(LookupFailed) as err:
        inventory.load(lab_project).select("pi-99")
    msg = str(err.value)
    assert "orin, pi-07, pi-08" in msg and "rack-a" in msg and "lab.emulate" in msg


def test_local_overlay_replaces_and_adds(lab_project):
    write(lab_project, "lab.toml", LAB)
    write(lab_project, "local.toml", '[device.pi-07]\ntarget = "rpi4"\nhost = "127.0.0.1"\nuser = "me"\n'
                                     'key-file = "k"\nport = 2200\n')
    inv = inventory.load(lab_project)
    assert inv.get("pi-07").host == "127.0.0.1" and inv.get("pi-07").source.name == "local.toml"
    assert len(inv.devices) == 3


@pytest.mark.parametrize("text, needle", [
    ('[device.x]\ntarget = "rpi4"\nhost = "h"\nuser = "u"\nkey-file = "k"\nprot = 22\n', "unknown key"),
    ('[device.x]\ntarget = "rpi4"\nhost = "h"\nuser = "u"\n', "'device.x.key-file': missing required key"),
    ('[device.x]\ntarget = "rpi4"\nhost = "h"\nuser = "u"\nkey-file = "k"\nport = "22"\n', "expected int"),
    ('[device.x]\ntarget = "rpi4"\nhost = "h"\nuser = "u"\nkey-file = "k"\nport = 70000\n', "1..65535"),
    ('[device.x]\ntarget = "rpi4"\nhost = "h"\nuser = "u"\nkey-file = "k"\ntags = ["all"]\n', "tag may not"),
    ('[devices.x]\ntarget = "rpi4"\n', "unknown table"),
])
def test_bad_files_name_file_and_key(lab_project, text, needle):
    write(lab_project, "lab.toml", text)
    with pytest.raises(ConfigError) as err:
        inventory.load(lab_project)
    assert "lab.toml" in str(err.value) and needle in str(err.value)


def test_write_local_round_trips(lab_project):
    dev = Device(target="rpi4", host="127.0.0.1", user="me", key_file="/k", port=2201,
                 python=["/x/python"], work_dir="/w", tags=["emulated"], emulated=True, name="emu")
    inventory.write_local(lab_project, dev)
    again = inventory.load(lab_project).get("emu")
    assert again == dev
    inventory.remove_local(lab_project, "emu")
    assert inventory.load(lab_project).devices == {}
