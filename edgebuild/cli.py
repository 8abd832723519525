"""What the invoke tasks share: user errors as clean exits, and human-readable summaries."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

from invoke.exceptions import Exit

from .errors import EdgebuildError, UsageError


def user_errors(fn):
    """Turn an EdgebuildError into `error: ...` on stderr and exit status 1, without a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EdgebuildError as exc:
            raise Exit(f"error: {exc}", code=1) from None

    return wrapper


def number(flag: str, value, kind=float, low: float | None = None):
    """A command-line number, or a UsageError that names the flag (invoke passes strings through)."""
    if value is None:
        return None
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{flag}={value}: expected {'a whole number' if kind is int else 'a number'}") from None
    if low is not None and out < low:
        raise UsageError(f"--{flag}={value}: must be >= {low}")
    return out


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True):
    """While the work runs, file descriptor 1 is stderr: a library's print or a C++ log line cannot
    end up in the JSON a task prints on stdout afterwards."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def format_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def build_summary(result) -> str:
    m = result.manifest
    metrics = m["metrics"]
    lines = [f"bundle: {result.bundle}" + (" (cached)" if result.cached else "")]
    for name, entry in m["files"].items():
        lines.append(f"  {name:<14} {format_bytes(entry['bytes']):>10}  sha256 {entry['sha256'][:16]}")
    if m.get("compression"):
        from .compress import format_table

        lines.append("compression (per step; the gate uses the compiled graph's row):")
        lines.extend("  " + line for line in format_table(m["compression"]).splitlines())
    shown = {k: v for k, v in metrics.items() if not k.endswith("_samples")}
    lines.append("metrics: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if m.get("kernels"):
        lines.append(kernels_summary(m["kernels"]))
    if result.speed_guard:
        lines.append(result.speed_guard["line"])
    return "\n".join(lines)


def kernels_summary(kernels: dict) -> str:
    """Who scheduled the kernels: counts per scheduler, the unscheduled share of run time, any fallback."""
    counts = ", ".join(f"{name} {n}" for name, n in kernels["counts"].items())
    line = f"kernels: {sum(kernels['counts'].values())} ({counts})"
    if kernels.get("unscheduled_share"):
        line += f"; unscheduled kernels take {kernels['unscheduled_share']:.0%} of run time"
    if kernels.get("fallback"):
        line += f"\nwarning: schedule rules failed to lower, every kernel compiled unscheduled: {kernels['fallback']}"
    return line


def targets_table(targets) -> str:
    rows = [("name", "arch", "cores", "tvm", "description")]
    for t in targets:
        tvm = t.tvm["kind"] + (f" {t.tvm.get('arch')}" if t.tvm.get("arch") else "")
        cpu = (t.host or t.tvm).get("mcpu", "")
        rows.append((t.name, t.arch, str(t.cores), f"{tvm} {cpu}".strip(), t.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows)


# The --json objects (README "Machine-readable output" documents each).
def build_json(result) -> dict:
    return {"bundle": str(result.bundle), "cached": result.cached, "manifest": result.manifest,
            "speed_guard": result.speed_guard}


def targets_json(targets) -> dict:
    from .schema import dump

    return {"targets": [{"name": t.name, **dump(t)} for t in targets]}


def recipes_json(recipes) -> dict:
    from .schema import dump

    return {"recipes": [{"name": r.name, **dump(r)} for r in recipes]}


def tune_json(result) -> dict:
    return {"records": str(result.records), "tasks": result.tasks, "trials": result.trials,
            "seconds": round(result.seconds, 1), "promoted": result.promoted, "kernels": result.kernels}


def deploy_json(outcome) -> dict:
    return {"device": outcome.device, "ok": outcome.ok, "error": outcome.error,
            "deployed": vars(outcome.deployed) if outcome.deployed else None}
