"""The SQLite history: schema and migrations, refusals, idempotent import, concurrent and killed writers."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgebuild import history
from edgebuild.errors import HistoryError
from edgebuild.history import migrations
from edgebuild.schema import HISTORY_SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[3]


def profile(device="pi-1", p50=1.0, time="2026-11-29T04:00:00Z", **extra):
    return {"device": device, "target": "rpi4", "model": "digits-cnn", "recipe": "none", "bundle_sha256": "ab" * 32,
            "emulated": False, "ok": True, "time": time, "latency_ms": {"p50": p50, "p90": p50 * 1.1, "p99": p50 * 1.2},
            **extra}


def test_a_new_database_is_created_at_the_current_version_and_reopened_unchanged(tmp_path):
    with history.open_history(tmp_path) as store:
        assert store.created and store.where == str(tmp_path / "history.sqlite")
        assert store.add([history.from_profile(profile())]) == 1
    with history.open_history(tmp_path) as store:
        assert not store.created
        assert migrations.version(store.db) == HISTORY_SCHEMA_VERSION
        [run] = store.runs()
    assert (run.kind, run.device, run.p50_ms, run.valid) == ("profile", "pi-1", 1.0, None)
    assert run.data == profile()
    mode = sqlite3.connect(tmp_path / "history.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_the_same_record_twice_is_one_row_and_filters_select(tmp_path):
    with history.open_history(tmp_path) as store:
        runs = [history.from_profile(profile("pi-1", 1.0, "2026-11-28T23:00:00+01:00")),
                history.from_profile(profile("pi-2", 2.0, "2026-11-29T05:00:00Z"))]
        assert store.add(runs) == 2
        assert store.add(runs) == 0
        assert [r.device for r in store.runs(device="pi-2")] == ["pi-2"]
        assert [r.time for r in store.runs(since="2026-11-29T00:00:00Z")] == ["2026-11-29T05:00:00.000000Z"]
        assert store.runs()[0].time == "2026-11-28T22:00:00.000000Z"  # stored in UTC
        assert store.runs(model="other") == []


def test_a_corrupt_file_is_refused_and_left_as_it_is(tmp_path):
    garbage = b"this is not an SQLite database at all" * 200
    (tmp_path / "history.sqlite").write_bytes(garbage)
    with pytest.raises(HistoryError, match="not a usable SQLite history"):
        history.open_history(tmp_path)
    assert (tmp_path / "history.sqlite").read_bytes() == garbage


def test_a_newer_schema_is_refused_and_left_as_it_is(tmp_path):
    with history.open_history(tmp_path) as store:
        with store.db.transaction():
            store.db.execute("UPDATE history_meta SET value = ? WHERE key = 'schema_version'",
                             (str(HISTORY_SCHEMA_VERSION + 1),))
    with pytest.raises(HistoryError, match=f"history schema {HISTORY_SCHEMA_VERSION + 1} was written by a newer"):
        history.open_history(tmp_path)
    version = sqlite3.connect(tmp_path / "history.sqlite").execute("SELECT value FROM history_meta").fetchone()[0]
    assert version == str(HISTORY_SCHEMA_VERSION + 1)


def test_a_foreign_database_is_refused(tmp_path):
    sqlite3.connect(tmp_path / "history.sqlite").execute("CREATE TABLE notes (x)")
    with pytest.raises(HistoryError, match="holds tables notes but no history_meta"):
        history.open_history(tmp_path)


def test_a_config_with_a_bad_url_or_key_is_refused(tmp_path):
    (tmp_path / "config.toml").write_text('history = "mysql://x"\n')
    with pytest.raises(HistoryError, match="neither 'sqlite:///PATH' nor 'postgresql://"):
        history.open_history(tmp_path)
    (tmp_path / "config.toml").write_text('histroy = "sqlite:///h.db"\n')
    with pytest.raises(Exception, match="histroy.*unknown key"):
        history.open_history(tmp_path)
    (tmp_path / "config.toml").write_text('history = "sqlite:///elsewhere.db"\n')
    with history.open_history(tmp_path) as store:
        assert store.where == str(tmp_path / "elsewhere.db")


def test_old_json_results_import_once_and_report_what_they_skipped(tmp_path):
    results = tmp_path
    (results / "pi-1").mkdir()
    first, second = profile(p50=1.0), profile(p50=2.0, time="2026-11-29T04:05:00Z")
    (results / "history.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n{broken\n")
    (results / "pi-1" / "a.json").write_text(json.dumps(first))  # the same result as line 1
    (results / "bench").mkdir()
    (results / "bench" / "20261129.json").write_text(json.dumps({
        "time": "2026-11-29T03:00:00+0000", "threads": 2, "runs": 5, "models": [
            {"model": "digits-cnn", "bundle_sha256": "cd" * 32, "engines": {
                "onnxruntime": {"median_ms": 0.5, "ratio_median": 1.0, "model_rss_mib": 1.0},
                "tvm": {"median_ms": 0.25, "ratio_median": 0.5, "model_rss_mib": 0.5}}}]}))
    (results / "bench" / "other.json").write_text(json.dumps({"something": "else"}))
    with history.open_history(results) as store:
        done = history.import_results(store, results)
        assert (done.added, done.already) == (4, 0)
        assert sorted(done.unreadable) == sorted([f"{results / 'history.jsonl'}:3: not JSON (Expecting property name "
                                                  f"enclosed in double quotes: line 1 column 2 (char 1))",
                                                  f"{results / 'bench' / 'other.json'}: not a profile result or bench "
                                                  f"report"])
        again = history.import_results(store, results)
        assert (again.added, again.already) == (0, 4)
        bench = store.runs(kind="bench")
    assert {(r.engine, r.p50_ms, r.ratio_ort, r.peak_model_bytes) for r in bench} == {
        ("onnxruntime", 0.5, 1.0, 2**20), ("tvm", 0.25, 0.5, 2**19)}
    assert bench[0].time == "2026-11-29T03:00:00.000000Z"


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from edgebuild import history
    folder, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for i in range(count):
        run = history.from_profile({"device": name, "bundle_sha256": str(i), "time": "2026-11-29T04:00:00Z",
                                    "latency_ms": {"p50": float(i)}})
        with history.open_history(folder) as store:
            assert store.add([run]) == 1
""")


def _python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], env=env, **kwargs)


def test_concurrent_writer_processes_all_land(tmp_path):
    writers = [_python(WRITER, tmp_path, f"pi-{n}", 30) for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    with history.open_history(tmp_path) as store:
        runs = store.runs()
    assert len(runs) == 120
    assert {r.device: sum(1 for s in runs if s.device == r.device) for r in runs} == {f"pi-{n}": 30 for n in range(4)}


# Adds two runs in one call and stops (so the test can SIGKILL it) after the first row is inserted.
KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from edgebuild import history
    store = history.open_history(Path(sys.argv[1]))
    execute = store.db.execute
    def slow(sql, params=()):
        count = execute(sql, params)
        if sql.startswith("INSERT INTO runs"):
            print("inserted", flush=True)
            time.sleep(600)
        return count
    store.db.execute = slow
    store.add([history.from_profile({"device": d, "bundle_sha256": "x", "time": "2026-11-29T04:00:00Z"})
               for d in ("a", "b")])
""")


def test_a_writer_killed_mid_transaction_leaves_nothing_half_written(tmp_path):
    with history.open_history(tmp_path) as store:
        store.add([history.from_profile(profile())])
    writer = _python(KILLED, tmp_path, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "inserted"
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL
    with history.open_history(tmp_path) as store:
        assert [r.device for r in store.runs()] == ["pi-1"]
        assert store.db.query("PRAGMA integrity_check") == [("ok",)]
        assert store.add([history.from_profile(profile("pi-2"))]) == 1  # the lock died with the writer
