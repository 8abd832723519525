"""model.weights: a library's lifted constants, mapped at load time instead of copied.

Layout (little-endian): 8 bytes magic "EBWEIGHT", u64 header length N, N bytes of JSON
{"tensors": [{"dtype", "shape", "offset"}, ...]}, zero padding to the next 4096-byte boundary,
then the tensors' bytes, each at a 64-byte-aligned offset from that boundary (TVM's kernels assume
64-byte-aligned buffers). The tensors are the trailing parameters of the library's `main`, in order.

Loading maps the file copy-on-write and hands TVM views of the mapping (DLPack), so weights cost
only the pages the model touches, shared with the page cache, and nothing is copied.

The device agent runs this module's source (agent.py is sent after it): only the standard library
at import time; numpy and TVM are imported when loading.
"""

import json
import os
import struct

MAGIC = b"EBWEIGHT"
ALIGN = 64
PAGE = 4096


def _up(n, to):
    return -(-n // to) * to


def write(path, arrays):
    """Write `arrays` (numpy, C-contiguous or not) to `path` in the layout above."""
    entries, end = [], 0
    for array in arrays:
        offset = _up(end, ALIGN)
        entries.append({"dtype": str(array.dtype), "shape": list(array.shape), "offset": offset})
        end = offset + array.nbytes
    header = json.dumps({"tensors": entries}, separators=(",", ":")).encode()
    start = _up(len(MAGIC) + 8 + len(header), PAGE)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<Q", len(header)) + header)
        for entry, array in zip(entries, arrays):
            f.seek(start + entry["offset"])
            f.write(array.tobytes())  # C order, whatever the array's strides
        f.truncate(start + end)


def read_header(path):
    """(tensor entries, byte offset of the data) of a weights file; ValueError when it is not one."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + 8)
        if len(head) < len(MAGIC) + 8 or head[:len(MAGIC)] != MAGIC:
            raise ValueError("%s: not an edgebuild weights file (no %r magic)" % (path, MAGIC.decode()))
        size = struct.unpack("<Q", head[len(MAGIC):])[0]
        header = json.loads(f.read(size))
    return header["tensors"], _up(len(MAGIC) + 8 + size, PAGE)


def load(path):
    """The tensors of a weights file as TVM tensors (CPU) viewing a copy-on-write mapping of it."""
    import numpy as np
    import tvm

    entries, start = read_header(path)
    mapped = np.memmap(path, dtype=np.uint8, mode="c") if entries else None
    tensors = []
    for entry in entries:
        dtype = np.dtype(entry["dtype"])
        count = 1
        for dim in entry["shape"]:
            count *= dim
        begin = start + entry["offset"]
        view = mapped[begin:begin + count * dtype.itemsize].view(dtype).reshape(entry["shape"])
        tensors.append(tvm.runtime.from_dlpack(view))  # no copy: 64-byte aligned in a page-aligned map
    return tensors


def beside(library):
    """The weights file that goes with a library (model.so -> model.weights), as a string."""
    return os.path.splitext(str(library))[0] + ".weights"


def load_runtime_extras():
    """Load TVM's libtvm_runtime_extra.so into a runtime-only process (TVM_USE_RUNTIME_LIB=1, as on
    devices and in bench workers): `import tvm` leaves it out there, yet compiled models call the
    functions it registers (tvm.contrib.sort.topk/argsort/sort for TopK, Sort, NonMaxSuppression).
    Call after `import tvm`, before running a model. A TVM without the file, or whose file cannot load
    here (a missing system library), changes nothing: a model calling its functions then fails naming them."""
    import ctypes

    import tvm

    path = os.path.join(os.path.dirname(tvm.__file__), "lib", "libtvm_runtime_extra.so")
    if os.environ.get("TVM_USE_RUNTIME_LIB") == "1" and os.path.exists(path):
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)  # as TVM loads it when not runtime-only
        except OSError:
            pass
