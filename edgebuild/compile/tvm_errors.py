"""TVM's own errors, told apart from bugs in edgebuild's code, and their useful message.

TVM 0.27 raises its C++ errors through tvm-ffi as Python built-ins (RuntimeError, ValueError,
TypeError...) marked with `__tvm_ffi_error__`; an error of Python code (a bug in a schedule rule)
has no such mark and must propagate.
"""

from __future__ import annotations

import re

# Lines of an error text that are not the message: IR printouts and the metadata footnote.
_NOISE = re.compile(r"^(#|@|\s|class |def |[A-Za-z_][\w.]*\s*[:=]|\)|\]|}|R\.|T\.)")


def is_tvm_error(exc: BaseException) -> bool:
    return getattr(exc, "__tvm_ffi_error__", None) is not None


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
