"""The results history: every build, bench, profile and tune as one row of one database.

SQLite under results/ by default, or a shared PostgreSQL server (results/config.toml `history`).
A library: the orchestration layer (edgebuild/flows) writes to it; it imports no stage.
"""

from .legacy import ImportReport, import_results
from .origin import here, machine
from .records import (KINDS, Origin, Run, from_bench, from_bench_compress, from_build, from_profile, from_search,
                      from_tune, utc)
from .store import History, HistoryConfig, load_config, open_history, sqlalchemy_url

__all__ = ["History", "HistoryConfig", "ImportReport", "KINDS", "Origin", "Run", "from_bench", "from_bench_compress",
           "from_build", "from_profile", "from_search", "from_tune", "here", "machine", "import_results", "load_config",
           "open_history", "sqlalchemy_url", "utc"]
