"""What the host and lab/device/measure.py say to each other about one batch of candidates.

Host -> device: batch.json (evaluator settings; per candidate its index, .so file name and the
argument list as MetaSchedule's ArgInfo JSON). Device -> host: one marker line per candidate.
Pure data handling, no TVM and no SSH, so the rules are unit-tested directly.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MARKER = "EDGEBUILD-CANDIDATE "


@dataclass(frozen=True)
class Evaluator:
    """time_evaluator settings (MetaSchedule's EvaluatorConfig without the cache flush)."""

    number: int = 3
    repeat: int = 1
    min_repeat_ms: int = 100


@dataclass(frozen=True)
class Measured:
    run_secs: list[float] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.run_secs is not None


def batch_json(candidates: list[tuple[int, str, list]], evaluator: Evaluator) -> str:
    """batch.json for (index, file name, args_info JSON) triples."""
    return json.dumps({
        "evaluator": {"number": evaluator.number, "repeat": evaluator.repeat, "min_repeat_ms": evaluator.min_repeat_ms},
        "candidates": [{"index": i, "file": name, "args": args} for i, name, args in candidates],
    })


def parse(stdout: str, expected: set[int]) -> dict[int, Measured]:
    """The candidates the device reported; lines that are not ours, or malformed, are ignored
    (a candidate without a valid line counts as unmeasured, and the caller decides why)."""
    found: dict[int, Measured] = {}
    for line in stdout.splitlines():
        if not line.startswith(MARKER):
            continue
        try:
            data = json.loads(line[len(MARKER):])
            index = data["index"]
        except (ValueError, KeyError, TypeError):
            continue
        if index in expected:
            found[index] = _measured(data)
    return found


def _measured(data: dict) -> Measured:
    if data.get("error"):
        return Measured(error=f"on the device: {data['error']}")
    secs = data.get("run_secs")
    valid = isinstance(secs, list) and secs and all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s > 0 for s in secs)
    if not valid:
        return Measured(error=f"the device reported invalid run_secs: {secs!r}")
    return Measured(run_secs=[float(s) for s in secs])
