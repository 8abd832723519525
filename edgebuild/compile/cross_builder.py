"""MetaSchedule's builder for a device target: candidates compiled here, linked with zig for the device.

MetaSchedule's default export writes a tar of object files that only this machine's runtime can
load (it links them on load with the host compiler). A device gets a shared library instead,
linked for its triple exactly as a bundle's model.so is.
"""

from __future__ import annotations

import functools
import os
import tempfile

from ..targets import Target
from . import toolchain

# MetaSchedule's 30 s default kills builds whose worker is still starting up on a busy 2-core box.
BUILD_TIMEOUT_S = 180


def build_candidate(mod, target, _params=None):
    """f_build for LocalBuilder: MetaSchedule's default_build without its `import tvm.s_tir.tensor_intrin`.

    That import parses every tensor intrinsic TVM ships (CUDA, ARM, x86) from TVMScript: 1-3 min of
    CPU in each builder process, and LocalBuilder starts fresh processes for every batch. The
    candidates arrive already tensorized, so lowering them needs no intrinsic registered."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    return tvm_build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def export_so(zig_target: str, flags: tuple[str, ...], rt_mod) -> str:
    """f_export for LocalBuilder: the candidate as a .so for `zig_target`; returns its path.

    Runs in MetaSchedule's builder worker processes (pickled by reference, so edgebuild must be
    importable there: it is whenever PYTHONPATH or the install points at this checkout)."""
    path = os.path.join(tempfile.mkdtemp(prefix="edgebuild-cand-"), "candidate.so")
    rt_mod.export_library(path, fcompile=toolchain.zig_linker(zig_target, flags))
    return path


def local_builder(target: Target | None = None, batch: int = 0):
    """LocalBuilder for `target` (None: this machine, MetaSchedule's own export).

    `batch`: candidates per batch; no more worker processes than that are started, since each one
    imports TVM afresh for every batch (seconds of CPU on a busy 2-core box)."""
    from tvm.s_tir import meta_schedule as ms

    workers = max(1, min(os.cpu_count() or 1, batch or os.cpu_count() or 1))
    if target is None:
        return ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S, max_workers=workers, f_build=build_candidate)
    export = functools.partial(export_so, target.link.zig_target, tuple(target.link.flags))
    return ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S, max_workers=workers, f_build=build_candidate,
                                   f_export=export)
