"""TVM's shipped tensor intrinsics, imported without the cost of the stdlib's inspect.stack().

MetaSchedule imports `tvm.s_tir.tensor_intrin` (every CUDA, ARM and x86 intrinsic, written in
TVMScript) the first time a process makes a tuning context. TVMScript's prim_func decorator calls
inspect.stack() for each function it parses, and the stdlib maps every frame of the stack to its
module, scanning sys.modules for frames of eval'd code: ~115 s of CPU for the import here
(measured 2026-11-29: `python -c "import tvm.s_tir.tensor_intrin"`). The parser reads the frames
themselves and the source line of the third one only, so during that one import the stack is built
with source lines for the first three frames and none for the rest.
"""

from __future__ import annotations

import contextlib
import inspect
import sys

EXACT_FRAMES = 3  # frames whose source lines TVMScript's parser may read (is_defined_in_class: frames[2])


def stack(context: int = 1, _depth: int = 1) -> list[inspect.FrameInfo]:
    """inspect.stack(context) of the caller, with code_context/index only for its first EXACT_FRAMES."""
    frame, frames = sys._getframe(_depth), []
    while frame:
        if len(frames) < EXACT_FRAMES:
            info = inspect.getframeinfo(frame, context)
            frames.append(inspect.FrameInfo(frame, *info, positions=info.positions))
        else:
            frames.append(inspect.FrameInfo(frame, frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name,
                                            None, None))
        frame = frame.f_back
    return frames


@contextlib.contextmanager
def _cheap_stack():
    real = inspect.stack
    inspect.stack = lambda context=1: stack(context, _depth=2)
    try:
        yield
    finally:
        inspect.stack = real


def import_tensor_intrinsics() -> None:
    """Import tvm.s_tir.tensor_intrin (once per process) before MetaSchedule does."""
    if "tvm.s_tir.tensor_intrin" in sys.modules:
        return
    with _cheap_stack():
        import tvm.s_tir.tensor_intrin  # noqa: F401  (registers the intrinsics)
