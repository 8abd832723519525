import subprocess

import pytest

from edgebuild.errors import VerifyFailed
from edgebuild.flows.release import dist, signing


def test_sign_and_verify_offline_with_a_local_key(tmp_path):
    key, pub = tmp_path / "release.key", tmp_path / "release.pub"
    subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    folder = tmp_path / "1.0"
    (folder / "bundles").mkdir(parents=True)
    (folder / "bundles" / "model.so").write_bytes(b"\x7fELF" + bytes(64))
    dist.write_json(folder / dist.MANIFEST, {"files": dist.file_entries(folder)})
    assert signing.sign(folder, key) == folder / dist.SIGNATURE
    signing.verify_signature(folder, pub)
    assert dist.SIGNATURE not in dist.file_entries(folder)  # release.json never lists the signature
    (folder / "bundles" / "model.so").write_bytes(b"\x7fELF" + bytes(63) + b"\x01")
    with pytest.raises(VerifyFailed, match="does not verify"):
        signing.verify_signature(folder, pub)
