import paramiko
import pytest

from edgebuild.errors import DeviceError
from edgebuild.lab import inventory, trust
from edgebuild.lab.transport import host_key_name

DEV = '[device.pi]\ntarget = "rpi4"\nhost = "10.1.1.1"\nuser = "u"\nkey-file = "k"\nport = 2222\n'


def test_pin_then_refuse_a_different_key_unless_replace(lab_project):
    (lab_project.root / "devices" / "lab.toml").write_text(DEV)
    inv = inventory.load(lab_project)
    dev = inv.get("pi")
    first = paramiko.RSAKey.generate(1024)
    second = paramiko.RSAKey.generate(1024)
    done = trust.trust(inv, dev, key=first)
    assert done.changed and done.file == inv.known_hosts
    assert "[10.1.1.1]:2222 ssh-rsa " in inv.known_hosts.read_text()
    assert not trust.trust(inv, dev, key=first).changed  # idempotent
    with pytest.raises(DeviceError, match="already has a different pinned key.*--replace"):
        trust.trust(inv, dev, key=second)
    trust.trust(inv, dev, key=second, replace=True)
    assert trust.pinned(inv, dev) == [second]
    assert host_key_name(dev) == "[10.1.1.1]:2222"


def test_fingerprint_is_openssh_style():
    key = paramiko.RSAKey.generate(1024)
    fp = trust.fingerprint(key)
    assert fp.startswith("SHA256:") and not fp.endswith("=") and len(fp) == 7 + 43


def test_forget_keeps_comments_and_other_hosts(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text("# pinned\n[a]:22 ssh-rsa AAAA\nb ssh-rsa BBBB\n")
    trust.forget(path, "[a]:22")
    assert path.read_text() == "# pinned\nb ssh-rsa BBBB\n"


def test_expected_fingerprint_must_match(lab_project):
    (lab_project.root / "devices" / "lab.toml").write_text(DEV)
    inv = inventory.load(lab_project)
    key, other = paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)
    with pytest.raises(DeviceError, match="not the expected .*nothing recorded"):
        trust.trust(inv, inv.get("pi"), key=key, expect=trust.fingerprint(other))
    assert not inv.known_hosts.exists()
    assert trust.trust(inv, inv.get("pi"), key=key, expect=trust.fingerprint(key)).changed
