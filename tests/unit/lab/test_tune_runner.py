"""DeviceRunner's policy for a device that drops, with a fake measuring session (no SSH, no device)."""

import pytest

from edgebuild.lab.tune_runner import DeviceRunner
from edgebuild.errors import DeviceError
from edgebuild.lab.inventory import Device, Inventory
from edgebuild.lab.measure_protocol import Measured

DEVICE = Device(target="rpi4", host="127.0.0.1", user="pi", key_file="k", name="pi-1")


class Script:
    """Opens sessions that follow a list of outcomes, one per batch: 'ok', 'drop' (the link breaks
    mid-batch) or 'down' (connecting fails)."""

    def __init__(self, *outcomes):
        self.outcomes, self.opened = list(outcomes), 0

    def open(self, inventory, device, timeouts):
        if self.outcomes[0] == "down":
            self.outcomes.pop(0)
            raise DeviceError(f"{device.name}: cannot connect to 127.0.0.1 port 22")
        self.opened += 1
        return Session(self)


class Session:
    def __init__(self, script):
        self.script, self.alive = script, True

    def measure(self, artifacts, evaluator):
        outcome = self.script.outcomes.pop(0)
        if outcome == "drop":
            self.alive = False
            raise OSError("Socket is closed")
        return [Measured(run_secs=[1e-3]) for _ in artifacts]

    def close(self):
        self.alive = False


def runner(script, said):
    return DeviceRunner(Inventory(None, {}), DEVICE, kept="build/tuning-emulated/rpi4", say=said.append,
                        open_session=script.open)


def test_one_connection_serves_every_batch():
    script, said = Script("ok", "ok"), []
    r = runner(script, said)
    assert all(m.ok for m in r.measure_batch([("a.so", []), ("b.so", [])]))
    assert all(m.ok for m in r.measure_batch([("c.so", [])]))
    assert script.opened == 1 and "batch 2: 1/1 candidates measured" in said[-1]


def test_a_dropped_batch_fails_its_candidates_and_the_next_batch_reconnects():
    script, said = Script("drop", "ok"), []
    r = runner(script, said)
    failed = r.measure_batch([("a.so", []), ("b.so", [])])
    assert [m.ok for m in failed] == [False, False] and "pi-1 dropped" in failed[0].error
    assert "2 candidates failed" in said[-1] and "reconnecting" in said[-1]
    assert r.measure_batch([("c.so", [])])[0].ok and script.opened == 2 and r.fatal is None


def test_a_device_that_stays_down_stops_with_a_device_error_naming_what_is_kept():
    script, said = Script("ok", "drop", "down"), []
    r = runner(script, said)
    r.measure_batch([("a.so", [])])
    r.measure_batch([("b.so", [])])
    with pytest.raises(DeviceError) as err:
        r.measure_batch([("c.so", [])])
    message = str(err.value)
    assert message.startswith("pi-1 is down: pi-1: cannot connect") and "after 3 batches (1 candidates measured" in message
    assert "kept in build/tuning-emulated/rpi4" in message and r.fatal is not None


def test_open_fails_at_once_when_the_device_cannot_be_reached():
    r = runner(Script("down"), [])
    with pytest.raises(DeviceError, match="cannot connect"):
        r.open()
    assert r.batches == 0 and r.fatal is None
