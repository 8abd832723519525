"""`invoke history`: filters, --since ages, table/csv/json exports; stdout holds only the export."""

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from edgebuild import history
from edgebuild.errors import UsageError
from edgebuild.flows import history as flow
from edgebuild.schema import HISTORY_SCHEMA_VERSION
from tests.conftest import invoke


def test_since_takes_ages_and_iso_times():
    now = datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
    assert flow.since_time("2d", now) == "2026-11-27T06:00:00.000000Z"
    assert flow.since_time("90m", now) == "2026-11-29T04:30:00.000000Z"
    assert flow.since_time("2026-11-29") == "2026-11-29T00:00:00.000000Z"
    assert flow.since_time("2026-11-29T07:00+01:00") == "2026-11-29T06:00:00.000000Z"
    with pytest.raises(UsageError, match="--since='yesterday'"):
        flow.since_time("yesterday")


def _seed(project):
    runs = [history.from_profile({"device": d, "bundle_sha256": "ab", "model": m, "recipe": "none", "target": "rpi4",
                                  "time": t, "ok": True, "latency_ms": {"p50": p}})
            for d, m, t, p in (("pi-1", "digits-cnn", "2026-11-28T10:00:00Z", 1.25),
                               ("pi-2", "minilm", "2026-11-29T10:00:00Z", 40.5))]
    flow.record(project, runs)


def test_invoke_history_exports_json_and_csv(tmp_project):
    _seed(tmp_project)
    done = invoke(tmp_project.root, "history", "--json", "--model=minilm")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # the whole stdout is one JSON object
    assert out["history_schema"] == HISTORY_SCHEMA_VERSION
    assert [(r["device"], r["p50_ms"], r["time"]) for r in out["runs"]] == [("pi-2", 40.5, "2026-11-29T10:00:00.000000Z")]
    done = invoke(tmp_project.root, "history", "--format=csv", "--since=2026-11-28T12:00")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["device"], r["p50_ms"], r["valid"]) for r in rows] == [("pi-2", "40.5", "")]
    table = invoke(tmp_project.root, "history").stdout.splitlines()
    assert table[0].split()[:3] == ["time", "kind", "model"] and table[-1] == "2 runs"
    bad = invoke(tmp_project.root, "history", "--format=xml")
    assert bad.returncode == 1 and "--format='xml': use table, csv or json" in bad.stderr


def test_the_first_open_imports_old_json_results_once(tmp_project):
    results = tmp_project.root / "results"
    results.mkdir()
    old = {"device": "pi-1", "bundle_sha256": "ab", "model": "digits-cnn", "recipe": "none", "target": "rpi4",
           "time": "2026-11-01T10:00:00Z", "ok": True, "latency_ms": {"p50": 3.5}}
    (results / "history.jsonl").write_text(json.dumps(old) + "\nnot json\n")
    said = []
    [run] = flow.list_runs(tmp_project, say=said.append)
    assert (run.device, run.p50_ms, run.time) == ("pi-1", 3.5, "2026-11-01T10:00:00.000000Z")
    assert said == [f"history {results / 'history.sqlite'}: created; imported 1 runs, skipped 0 already in the "
                    f"history, skipped 1 unreadable: {results / 'history.jsonl'}:2: not JSON (Expecting value: line 1 "
                    f"column 1 (char 0))"]
    assert len(flow.list_runs(tmp_project, say=said.append)) == 1 and len(said) == 1  # not imported again
