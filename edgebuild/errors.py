"""Every error edgebuild raises on purpose. Tasks print these without a traceback.

Each message says what is wrong (file, field or value) and how to fix it.
"""


class EdgebuildError(Exception):
    """A user-facing error: the message is complete and actionable."""


class UsageError(EdgebuildError):
    """A command-line value cannot be used as given."""


class ConfigError(EdgebuildError):
    """A target, recipe or device file is missing, malformed or invalid."""


class LookupFailed(EdgebuildError):
    """A named thing (target, recipe, model) does not exist; the message lists the valid names."""


class ModelError(EdgebuildError):
    """A model cannot be loaded, shaped or exported."""


class ToolchainError(EdgebuildError):
    """A compiler or linker the target needs is missing or failed."""


class CompileError(EdgebuildError):
    """TVM cannot import or build the graph."""


def unknown(kind: str, name: str, valid: list[str], hint: str = "") -> LookupFailed:
    """The error for a failed registry lookup: names the valid choices."""
    choices = ", ".join(sorted(valid)) or "(none)"
    msg = f"unknown {kind} {name!r}; valid {kind}s: {choices}"
    return LookupFailed(msg + (f". {hint}" if hint else ""))


class DeviceError(EdgebuildError):
    """A device cannot be reached, trusted, provisioned, deployed to or profiled."""


class GateFailed(EdgebuildError):
    """A recipe's accuracy gate was exceeded by the compiled graph; the message holds the per-step table."""


class SpeedGuardRefused(EdgebuildError):
    """An int8 build is not faster than fp32 and its recipe sets speed-guard = "refuse"; the message holds the figures."""


class ReleaseRefused(EdgebuildError):
    """A release cannot be made as asked (dirty worktree, existing version, a regression past a gate)."""


class VerifyFailed(EdgebuildError):
    """A released folder does not match its release manifest, provenance or a rebuild."""


class HistoryError(EdgebuildError):
    """The results history cannot be opened, read or written (corrupt, newer schema, server unreachable)."""
