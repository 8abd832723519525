"""The history on a real PostgreSQL server: same schema and migrations, refusals, two concurrent writers.

The server (Debian's postgresql package; scripts/install-lab-test-deps) runs in a temporary data dir on
a free local port. initdb and postgres refuse to run as root, so as root it runs as user nobody.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from edgebuild import history
from edgebuild.errors import HistoryError
from edgebuild.history import migrations
from edgebuild.schema import HISTORY_SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[2]
BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def server():
    if not BIN:
        pytest.skip("PostgreSQL is not installed: run scripts/setup --test (as root) or scripts/install-lab-test-deps")
    bin_dir = Path(BIN[-1])
    data = Path(tempfile.mkdtemp(prefix="edgebuild-pg-"))
    os.chmod(data, 0o755)
    if os.geteuid() == 0:
        shutil.chown(data, "nobody", "nogroup")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data / "db"), "-U", "edgebuild",
                                        "--auth=trust", "--no-sync"]), check=True, capture_output=True, timeout=120)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-o", options,
                                        "-l", str(data / "log"), "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, timeout=120)
        yield f"postgresql://edgebuild@127.0.0.1:{port}"
    finally:
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def database(server, request):
    """A fresh database on the server for one test; its URL."""
    import psycopg

    name = "t_" + request.node.name.lower()[:40].replace("-", "_")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def test_config_points_the_history_at_postgresql(database, tmp_path):
    (tmp_path / "config.toml").write_text(f'history = "{database}"\n')
    with history.open_history(tmp_path) as store:
        assert store.created and store.db.dialect == "postgresql"
        run = history.from_profile({"device": "pi-1", "bundle_sha256": "ab", "time": "2026-11-29T05:00:00+01:00",
                                    "emulated": True, "latency_ms": {"p50": 1.5, "p90": 1.75, "p99": 2.0}})
        assert store.add([run, run]) == 1
    assert not (tmp_path / "history.sqlite").exists()
    with history.open_history(tmp_path) as store:
        assert not store.created and migrations.version(store.db) == HISTORY_SCHEMA_VERSION
        [back] = store.runs(device="pi-1", since="2026-11-29T03:59:00Z")
    assert (back.time, back.emulated, back.p50_ms, back.p99_ms, back.data) == (
        "2026-11-29T04:00:00.000000Z", True, 1.5, 2.0, run.data)


def test_a_newer_schema_on_the_server_is_refused(database, tmp_path):
    with history.open_history(tmp_path, database) as store:
        with store.db.transaction():
            store.db.execute("UPDATE history_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(HistoryError, match="history schema 99 was written by a newer edgebuild"):
        history.open_history(tmp_path, database)


def test_an_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(HistoryError, match=rf"history database postgresql://edgebuild:\*\*\*@127.0.0.1:{port}/x: "):
        history.open_history(tmp_path, f"postgresql://edgebuild:secret@127.0.0.1:{port}/x")


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from edgebuild import history
    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(count):
        run = history.from_profile({"device": name, "bundle_sha256": str(i), "time": "2026-11-29T04:00:00Z"})
        with history.open_history(Path("/nonexistent"), url) as store:
            assert store.add([run]) == 1
""")


def test_two_writer_processes_on_a_new_database_both_land(database):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, database, f"pi-{n}", "20"], env=env,
                                stderr=subprocess.PIPE, text=True) for n in range(2)]
    for w in writers:
        assert w.wait(timeout=120) == 0, w.stderr.read()
    with history.open_history(Path("/nonexistent"), database) as store:
        runs = store.runs()
    assert sorted((r.device, r.bundle_sha256) for r in runs) == sorted(
        (f"pi-{n}", str(i)) for n in range(2) for i in range(20))
