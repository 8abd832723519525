"""Optional signing of a release folder with the OpenSSF `model-signing` package and a local key.

Keyless (Sigstore) signing needs network services a lab may not have; an elliptic-curve key pair
(e.g. `openssl ecparam -genkey -name prime256v1 -noout -out release.key` and
`openssl ec -in release.key -pubout -out release.pub`) signs and verifies offline. The signature,
dist/X/release.sig, covers every file of the folder; it is the one file release.json does not list.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import UsageError, VerifyFailed
from . import dist


def sign(folder: Path, private_key: Path) -> Path:
    from model_signing import signing

    dist.read_manifest(folder)  # a release folder, not any folder
    if not private_key.is_file():
        raise UsageError(f"--key={private_key}: no such file; create one with "
                         "`openssl ecparam -genkey -name prime256v1 -noout -out release.key`")
    out = folder / dist.SIGNATURE
    try:
        signing.Config().use_elliptic_key_signer(private_key=private_key).sign(folder, out)
    except ValueError as exc:
        raise UsageError(f"--key={private_key}: cannot sign with it: {exc}") from None
    return out


def verify_signature(folder: Path, public_key: Path) -> None:
    from model_signing import hashing, verifying

    sig = folder / dist.SIGNATURE
    if not sig.is_file():
        raise VerifyFailed(f"{folder}: no {dist.SIGNATURE}; sign it with `invoke release.sign {folder} --key=...`")
    try:
        (verifying.Config().use_elliptic_key_verifier(public_key=public_key)
         .set_hashing_config(hashing.Config().set_ignored_paths(paths=[sig])).verify(folder, sig))
    except ValueError as exc:
        raise VerifyFailed(f"{folder}: the signature does not verify with {public_key}: {exc}") from None
