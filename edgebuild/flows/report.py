"""`invoke report`: the history's runs as one self-contained HTML page."""

from __future__ import annotations

import os
from pathlib import Path

from .. import report
from ..history import utc
from ..report import Settings
from ..project import Project
from . import history as results_history


def write(project: Project, out: Path | None = None, model: str = "", since: str = "",
          settings: Settings = Settings(), say=print) -> Path:
    """Render the page to `out` (default results/report.html), replacing any old one only when complete."""
    out = (out or results_history.results_dir(project) / "report.html").resolve()
    with results_history.open_history(project, say) as store:
        source = store.where
        runs = store.runs(model=model or None, since=results_history.since_time(since) if since else None)
    scope = "".join(f", {k} {v}" for k, v in (("model", model), ("since", since)) if v)
    page = report.render(runs, settings, source, utc()[:19] + "Z", scope)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
