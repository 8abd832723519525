"""The history's one database layer: SQLite (stdlib sqlite3, the default) or PostgreSQL (psycopg 3).

Statements are written once, with `?` placeholders and types both servers accept; only the
placeholder, the auto-increment key and the table listing differ. Every write is one transaction:
SQLite runs in WAL mode and takes the write lock at BEGIN (IMMEDIATE), so concurrent writers queue
instead of failing half-way; a killed writer leaves its transaction wholly absent.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import HistoryError

BUSY_TIMEOUT_S = 60.0
# pg_advisory_xact_lock key that serialises migrations of one PostgreSQL database ("edgebuild" in ASCII).
PG_MIGRATION_LOCK = 0x6564676562756964


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class Database:
    """One connection. `dialect` is 'sqlite' or 'postgresql'; `where` names it in messages."""

    dialect: str
    where: str
    serial: str  # the column type of an auto-increment primary key

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement inside `transaction()`; returns the affected row count."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    @contextmanager
    def transaction(self, migration: bool = False) -> Iterator[None]:
        raise NotImplementedError

    def close(self) -> None:
        self._conn.close()


class SQLite(Database):
    dialect, serial = "sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: Path):
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; transaction() issues BEGIN/COMMIT itself.
        self._conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        with self._errors():
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise HistoryError(f"{path}: SQLite refused WAL mode (journal_mode={mode}); put results/ on a local "
                                   f"file system")
            self._conn.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.where}: not a usable SQLite history ({exc}). It was left as it is: move it "
                               f"aside (the raw JSON under results/ re-imports with `invoke history --import-json`) "
                               f"or point results/config.toml's `history` elsewhere") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._errors():
            return self._conn.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._errors():
            return self._conn.execute(sql, tuple(params)).fetchall()

    def tables(self) -> set[str]:
        return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r[0].startswith("sqlite_")}

    @contextmanager
    def transaction(self, migration: bool = False) -> Iterator[None]:
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        with self._errors():
            self._conn.execute("COMMIT")


class PostgreSQL(Database):
    dialect, serial = "postgresql", "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str):
        self.where = redact(url)
        try:
            import psycopg
        except ImportError:
            raise HistoryError("results/config.toml points the history at PostgreSQL, but psycopg is not installed: "
                               "pip install 'psycopg[binary]'") from None
        self._psycopg = psycopg
        with self._errors():
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=20)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HistoryError(f"history database {self.where}: {first}") from None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._errors():
            return self._conn.execute(self._sql(sql), tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._errors():
            return self._conn.execute(self._sql(sql), tuple(params)).fetchall()

    def tables(self) -> set[str]:
        return {r[0] for r in self.query("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = current_schema()")}

    @contextmanager
    def transaction(self, migration: bool = False) -> Iterator[None]:
        with self._errors(), self._conn.transaction():
            if migration:  # two hosts opening a new database at once must not both create its tables
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK,))
            yield


def connect(url: str, results_dir: Path) -> Database:
    """'' (results/history.sqlite), 'sqlite:///PATH' (relative to results/) or 'postgresql://...'."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgreSQL(url)
    if url == "" or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///") or "history.sqlite")
        return SQLite(path if path.is_absolute() else results_dir / path)
    raise HistoryError(f"results/config.toml: history = {redact(url)!r} is neither 'sqlite:///PATH' nor "
                       f"'postgresql://USER@HOST:PORT/DB'; remove the key for the default results/history.sqlite")


def sqlalchemy_url(url: str, results_dir: Path) -> str:
    """The same database as `connect(url, results_dir)`, as an SQLAlchemy URL (the recipe search's Optuna
    study lives there, in Optuna's own tables)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3, the driver the history uses
    path = Path(url.removeprefix("sqlite:///") or "history.sqlite")
    return f"sqlite:///{path if path.is_absolute() else (results_dir / path).resolve()}"
