"""TVM's own errors, told apart from bugs in edgebuild's code, and their useful message.

TVM 0.27 raises its C++ errors through tvm-ffi as Python built-ins (RuntimeError, ValueError,
TypeError...) marked with `__tvm_ffi_error__`. An exception raised by Python code that TVM called
back (a bug in one of edgebuild's passes) comes back marked too, as a RuntimeError, but its innermost
traceback frame is that Python code: only errors raised in TVM (C++ or TVM's own Python) count.
"""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path

# Lines of an error text that are not the message: IR printouts and the metadata footnote.
_NOISE = re.compile(r"^(#|@|\s|class |def |[A-Za-z_][\w.]*\s*[:=]|\)|\]|}|R\.|T\.)")


def is_tvm_error(exc: BaseException) -> bool:
    if getattr(exc, "__tvm_ffi_error__", None) is None:
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    origin = frames[-1].filename if frames else ""
    return not origin.endswith(".py") or any(origin.startswith(root) for root in _tvm_roots())


def _tvm_roots() -> tuple[str, ...]:
    import tvm
    import tvm_ffi

    return tuple(str(Path(m.__file__).parent) + os.sep for m in (tvm, tvm_ffi))


def message(exc: BaseException) -> str:
    """TVM's message without its C++ backtrace or the IR it prints (never "Metadata omitted...")."""
    lines = [ln.rstrip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    checks = [ln.strip() for ln in lines if "Check failed" in ln or re.search(r"\b\w*Error:", ln)]
    if checks:
        return checks[-1]
    useful = [ln.strip() for ln in lines if not _NOISE.match(ln) and "Metadata omitted" not in ln]
    return (useful[-1] if useful else lines[0].strip())[:500]
