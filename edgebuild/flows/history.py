"""The flows' side of the results history: open it (importing old JSON once), record runs, list them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Callable

from .. import history
from ..errors import UsageError
from ..history import History, Run
from ..project import Project
from ..schema import HISTORY_SCHEMA_VERSION

Say = Callable[[str], None]
# Columns of `invoke history`'s table and CSV, in order (JSON has every column).
SHOWN = ("time", "kind", "model", "recipe", "target", "device", "engine", "emulated", "valid", "p50_ms", "p90_ms",
         "p99_ms", "metric", "metric_value", "ratio_ort", "so_bytes", "transfer_bytes", "git_commit", "host")


def results_dir(project: Project):
    return project.root / "results"


def open_history(project: Project, say: Say = print) -> History:
    """The project's history; the first open imports the JSON results already under results/."""
    opened = history.open_history(results_dir(project))
    if opened.created:
        try:
            done = history.import_results(opened, results_dir(project))
        except BaseException:
            opened.db.close()
            raise
        if done.added or done.unreadable:
            say(f"history {opened.where}: created; {done.summary()}")
    return opened


def record(project: Project, runs: list[Run], say: Say = print) -> None:
    """Store runs in the history, atomically."""
    with open_history(project, say) as store:
        store.add(runs)


def import_json(project: Project, say: Say = print) -> history.ImportReport:
    """Import results/*.jsonl and results/*/*.json again (idempotent: what is stored already is skipped)."""
    with open_history(project, say) as store:
        return history.import_results(store, results_dir(project))


def since_time(text: str, now: datetime | None = None) -> str:
    """'7d', '12h', '30m' ago, or an ISO date/time (UTC unless it has an offset) -> UTC ISO time."""
    relative = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if relative:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[relative.group(2)]
        moment = (now or datetime.now(timezone.utc)) - timedelta(**{unit: int(relative.group(1))})
        return history.utc(moment.isoformat())
    try:
        return history.utc(text)
    except ValueError:
        raise UsageError(f"--since={text!r}: give an ISO date or time (2026-11-29, 2026-11-29T06:00) or an age "
                         f"(7d, 12h, 30m)") from None


def list_runs(project: Project, model: str = "", device: str = "", since: str = "", kind: str = "",
              say: Say = print) -> list[Run]:
    with open_history(project, say) as store:
        return store.runs(model=model or None, device=device or None, since=since_time(since) if since else None,
                          kind=kind or None)


def export(runs: list[Run], fmt: str) -> str:
    """'table' (for people), 'csv', or 'json' (one object: the schema version and every column of every run)."""
    if fmt == "json":
        return json.dumps({"history_schema": HISTORY_SCHEMA_VERSION, "runs": [r.to_json() for r in runs]})
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SHOWN)
        writer.writerows([getattr(r, c) for c in SHOWN] for r in runs)
        return out.getvalue().rstrip("\n")
    if fmt != "table":
        raise UsageError(f"--format={fmt!r}: use table, csv or json")
    rows = [SHOWN[:10]] + [tuple(_cell(getattr(r, c)) for c in SHOWN[:10]) for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows) + \
        f"\n{len(runs)} runs"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
