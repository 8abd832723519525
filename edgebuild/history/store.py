"""The results history: add runs (one transaction each call), list them back with filters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import schema
from ..errors import HistoryError
from . import db as dblib, migrations
from .records import COLUMNS, KINDS, Run, from_columns, utc

CONFIG = "config.toml"


@dataclass(frozen=True)
class HistoryConfig:
    """results/config.toml. `history`: '' (results/history.sqlite), 'sqlite:///PATH' or 'postgresql://...'."""

    history: str = ""


def load_config(results_dir: Path) -> HistoryConfig:
    path = results_dir / CONFIG
    if not path.is_file():
        return HistoryConfig()
    return schema.build(HistoryConfig, schema.load_toml(path), schema.Where(path))


class History:
    """An open history database. `created` is True when this open created its tables."""

    def __init__(self, database: dblib.Database, created: bool):
        self.db, self.created = database, created

    @property
    def where(self) -> str:
        return self.db.where

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.db.close()

    def add(self, runs: list[Run]) -> int:
        """Store `runs` atomically (all or none); returns how many were new (a uid already stored is skipped)."""
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        added = 0
        with self.db.transaction():
            for run in runs:
                values = run.columns()
                added += self.db.execute(f"INSERT INTO runs ({names}) VALUES ({marks}) ON CONFLICT (uid) DO NOTHING",
                                         [values[c] for c in COLUMNS])
        return added

    def runs(self, model: str | None = None, device: str | None = None, since: str | None = None,
             kind: str | None = None) -> list[Run]:
        """Matching runs, oldest first. `since` is an ISO time (UTC unless it has an offset)."""
        where, params = [], []
        for column, value in (("model", model), ("device", device), ("kind", kind)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if kind and kind not in KINDS:
            raise HistoryError(f"unknown run kind {kind!r}; kinds: {', '.join(KINDS)}")
        if since:
            where.append("time >= ?")
            params.append(utc(since))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(f"SELECT {', '.join(COLUMNS)} FROM runs{clause} ORDER BY time, id", params)
        return [from_columns(dict(zip(COLUMNS, row))) for row in rows]


def open_history(results_dir: Path, url: str | None = None) -> History:
    """Open (creating or migrating) the history that results/config.toml names, or `url`."""
    url = load_config(results_dir).history if url is None else url
    database = dblib.connect(url, results_dir)
    try:
        created = migrations.migrate(database) == 0
    except BaseException:
        database.close()
        raise
    return History(database, created)


def sqlalchemy_url(results_dir: Path) -> str:
    """The history results/config.toml names, as an SQLAlchemy URL (for Optuna's study storage)."""
    return dblib.sqlalchemy_url(load_config(results_dir).history, results_dir)
