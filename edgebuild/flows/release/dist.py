"""dist/<version>/: assembled in a hidden sibling folder, renamed into place when complete.

release.json (the release manifest) lists every other file with its sha256 and size; a detached
signature (release.sig, optional) signs the folder and is the only other file it does not list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ... import bundle
from ...errors import ReleaseRefused, UsageError
from ...models.base import sha256_file

MANIFEST, SIGNATURE = "release.json", "release.sig"
RELEASE_SCHEMA_VERSION = 1
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def target_folder(dist: Path, version: str) -> Path:
    if not _VERSION.match(version):
        raise UsageError(f"--version={version!r}: use letters, digits, '.', '_', '+' and '-' (e.g. 1.4.0)")
    out = dist / version
    if out.exists():
        raise ReleaseRefused(f"{out} exists; a released version is never overwritten: pick another --version")
    return out


def staged(out: Path):
    """An empty folder beside `out`, renamed to `out` when complete; removed on any failure."""
    return bundle.staged(out, replace=False)


def file_entries(folder: Path) -> dict[str, dict]:
    """Every file under `folder` but the manifest and signature: relative path -> sha256, bytes."""
    return {str(p.relative_to(folder)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).as_posix() not in (MANIFEST, SIGNATURE)}


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except OSError:
        raise UsageError(f"{folder}: no {MANIFEST}; give a release folder such as dist/1.0.0") from None
    except ValueError as exc:
        raise UsageError(f"{folder / MANIFEST}: not valid JSON ({exc})") from None
    return data


def newest(dist: Path) -> Path | None:
    """The most recent complete release under dist/ (by its manifest's creation time)."""
    found = []
    for folder in dist.iterdir() if dist.is_dir() else ():
        if folder.is_dir() and not folder.name.startswith(".") and (folder / MANIFEST).is_file():
            found.append((read_manifest(folder).get("created", ""), folder))
    return max(found)[1] if found else None
