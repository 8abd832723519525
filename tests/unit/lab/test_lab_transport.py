import socket
import time

import paramiko
import pytest

from edgebuild.errors import DeviceError
from edgebuild.lab import inventory, transport
from edgebuild.lab.inventory import Device


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inv(lab_project):
    key = lab_project.root / "devices" / "key"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(key))
    return inventory.Inventory(lab_project.root / "devices", {})


def device(port, host="127.0.0.1"):
    return Device(target="rpi4", host=host, user="u", key_file="key", port=port, name="ghost")


def test_closed_port_fails_at_once_naming_host_and_port(inv):
    port = free_port()
    began = time.monotonic()
    with pytest.raises(DeviceError) as err:
        transport.connect(inv, device(port), transport.Timeouts(connect=2))
    assert time.monotonic() - began < 2.5
    assert f"127.0.0.1 port {port}" in str(err.value) and "ghost" in str(err.value)


def test_silent_host_fails_within_the_connect_timeout(inv):
    # A listening socket that never answers the SSH banner: the banner timeout ends it.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        began = time.monotonic()
        with pytest.raises(DeviceError) as err:
            transport.connect(inv, device(server.getsockname()[1]),
                              transport.Timeouts(connect=1, banner=1, auth=1))
        assert time.monotonic() - began < 4
    assert "ghost" in str(err.value)


def test_missing_key_file_says_which_key(inv):
    dev = Device(target="rpi4", host="127.0.0.1", user="u", key_file="nope", port=22, name="ghost")
    with pytest.raises(DeviceError, match="key file .*nope does not exist"):
        transport.connect(inv, dev)
