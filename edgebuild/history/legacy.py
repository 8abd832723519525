"""One-time import of the JSON results written before the history existed (and of raw JSON since).

Reads results/history.jsonl and results/<device>/*.json (profile results) and results/bench/*.json
(bench and bench-compress reports). Idempotent: a row already stored (same uid) is counted as skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import records
from .records import Run
from .store import History


@dataclass
class ImportReport:
    added: int = 0
    already: int = 0  # rows the history held before (a second import adds nothing)
    unreadable: list[str] = field(default_factory=list)  # "file[:line]: why"

    def summary(self) -> str:
        text = f"imported {self.added} runs, skipped {self.already} already in the history"
        if self.unreadable:
            text += f", skipped {len(self.unreadable)} unreadable: " + "; ".join(self.unreadable)
        return text

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "already": self.already, "unreadable": self.unreadable}


def _sources(results_dir: Path) -> Iterator[tuple[str, Any]]:
    """(place, parsed JSON or the error text) for every legacy record."""
    jsonl = results_dir / "history.jsonl"
    if jsonl.is_file():
        for number, line in enumerate(jsonl.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if line.strip():
                yield f"{jsonl}:{number}", _parse(line)
    for path in sorted(results_dir.glob("*/*.json")):
        yield str(path), _parse(path.read_text(encoding="utf-8", errors="replace"))


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc})"


def _runs(data: Any) -> list[Run]:
    """The rows of one legacy record; ValueError when it is none of the known kinds."""
    if not isinstance(data, dict):
        raise ValueError(str(data) if isinstance(data, str) else "not a JSON object")
    try:
        if "device" in data and "bundle_sha256" in data and "time" in data:
            return [records.from_profile(data)]
        if isinstance(data.get("models"), list) and "time" in data:
            return records.from_bench(data)
        if isinstance(data.get("rows"), list) and "model" in data and "time" in data:
            return records.from_bench_compress(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"malformed ({type(exc).__name__}: {exc})") from None
    raise ValueError("not a profile result or bench report")


def import_results(history: History, results_dir: Path) -> ImportReport:
    report = ImportReport()
    pending: dict[str, Run] = {}
    for place, data in _sources(results_dir):
        try:
            for run in _runs(data):
                pending.setdefault(run.uid, run)  # history.jsonl and results/<device>/ hold the same results
        except ValueError as exc:
            report.unreadable.append(f"{place}: {exc}")
    report.added = history.add(list(pending.values()))
    report.already = len(pending) - report.added
    return report
