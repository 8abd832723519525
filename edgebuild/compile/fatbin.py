"""What the CUDA fat binaries embedded in a library hold: per entry, PTX or SASS, and for which arch.

NVIDIA documents only the fat binary's wrapper (fatbinary_section.h in the toolkit); the layout read
here is the one nvcc 13.0 writes (verified on this machine, 2026-11-29, against
`nvcc --fatbin -gencode arch=compute_87,code=[sm_87,compute_87]`): a 16-byte header (magic
0xBA55ED50, version, header size, payload size), then entries, each a header (kind: 1 PTX, 2 ELF
i.e. SASS; its own size; payload size; ...; arch at byte 28, e.g. 87) and its payload. PTX payloads
may be compressed; only the headers are read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "sass"}


@dataclass(frozen=True)
class Entry:
    kind: str  # "ptx" | "sass" | "kind-N"
    arch: int  # 87 for sm_87 / compute_87


def entries(blob: bytes) -> list[Entry]:
    """Every entry of every fat binary found in `blob` (a model.so's bytes)."""
    found = []
    magic = struct.pack("<I", MAGIC)
    start = blob.find(magic)
    while start != -1:
        found += _one(blob, start)
        start = blob.find(magic, start + 4)
    return found


def _one(blob: bytes, start: int) -> list[Entry]:
    if start + 16 > len(blob):
        return []
    _, _, header, size = struct.unpack_from("<IHHQ", blob, start)
    offset, end = start + header, min(start + header + size, len(blob))
    out = []
    while offset + 32 <= end:
        kind, _, entry_header, payload = struct.unpack_from("<HHIQ", blob, offset)
        (arch,) = struct.unpack_from("<I", blob, offset + 28)
        if entry_header < 32:  # not a fat binary after all (the magic number inside other data)
            break
        out.append(Entry(KINDS.get(kind, f"kind-{kind}"), arch))
        offset += entry_header + payload
    return out
