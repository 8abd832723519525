"""The history's schema, as the migrations that build it (README "Results history" documents the columns).

MIGRATIONS[v] takes a database at version v-1 to version v; the version in use is
edgebuild.schema.HISTORY_SCHEMA_VERSION. Add a migration and bump that version together; never edit an
applied one. `{serial}` is the dialect's auto-increment key type.
"""

from __future__ import annotations

from ..errors import HistoryError
from ..schema import HISTORY_SCHEMA_VERSION
from .db import Database

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE history_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE runs (
            id {serial},
            uid TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            time TEXT NOT NULL,
            model TEXT, recipe TEXT, target TEXT, device TEXT, engine TEXT,
            emulated INTEGER NOT NULL,
            bundle_sha256 TEXT, host TEXT, git_commit TEXT, toolchain TEXT,
            valid INTEGER,
            p50_ms DOUBLE PRECISION, p90_ms DOUBLE PRECISION, p99_ms DOUBLE PRECISION,
            peak_model_bytes BIGINT, so_bytes BIGINT, transfer_bytes BIGINT,
            metric TEXT, metric_value DOUBLE PRECISION, ratio_ort DOUBLE PRECISION,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX runs_by_key ON runs (model, recipe, target, device, time)",
        "CREATE INDEX runs_by_time ON runs (time)",
    ),
    # 2: rows of kind "search" (recipe-search trials and their held-out re-measures); the recipe
    # search's Optuna study shares the database, in Optuna's own tables.
    2: ("CREATE INDEX runs_by_kind ON runs (kind, time)",),
}
assert max(MIGRATIONS) == HISTORY_SCHEMA_VERSION, "add a migration when bumping HISTORY_SCHEMA_VERSION"


def version(db: Database) -> int:
    """The schema version the database holds: 0 for an empty one; an error for a foreign or newer one."""
    tables = db.tables()
    if "history_meta" not in tables:
        if tables:
            raise HistoryError(f"{db.where}: holds tables {', '.join(sorted(tables))} but no history_meta, so it is "
                               f"not an edgebuild history (or a damaged one); nothing was changed. Point "
                               f"results/config.toml's `history` at an empty database or move this one aside")
        return 0
    rows = db.query("SELECT value FROM history_meta WHERE key = 'schema_version'")
    if not rows or not str(rows[0][0]).isdigit():
        raise HistoryError(f"{db.where}: history_meta has no valid schema_version; nothing was changed")
    found = int(rows[0][0])
    if found > HISTORY_SCHEMA_VERSION:
        raise HistoryError(f"{db.where}: history schema {found} was written by a newer edgebuild (this one reads up "
                           f"to {HISTORY_SCHEMA_VERSION}); upgrade edgebuild, or point results/config.toml's `history` "
                           f"at another database. Nothing was changed")
    return found


def migrate(db: Database) -> int:
    """Bring the database to HISTORY_SCHEMA_VERSION; returns the version it had before (0: created now)."""
    before = version(db)
    if before == HISTORY_SCHEMA_VERSION:
        return before
    with db.transaction(migration=True):
        before = version(db)  # another process may have migrated while this one waited for the lock
        for step in range(before + 1, HISTORY_SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                db.execute(statement.format(serial=db.serial))
        db.execute("DELETE FROM history_meta WHERE key = 'schema_version'")
        db.execute("INSERT INTO history_meta (key, value) VALUES ('schema_version', ?)", (str(HISTORY_SCHEMA_VERSION),))
    return before
