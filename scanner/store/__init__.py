"""The SQLite datastore: scans, credentials and locations with first/last seen, scanned git blob
ids (incremental rescans), the identity graph, and an append-only event log (the audit trail).

`db_path(explicit)` decides where: `--db PATH`, else `$SPRAWLSCAN_DB`; `scan` records only when one
of them is given, while the reading commands fall back to `.sprawlscan/sprawlscan.db` in the
working directory."""

from __future__ import annotations

import os
from pathlib import Path

from scanner.errors import ConfigError
from scanner.store.db import EVENT_KINDS, Store, StoreBlobCache
from scanner.store.queries import ScanDiff, ScanInfo
from scanner.store.schema import SCHEMA_VERSION

DEFAULT_DB = Path(".sprawlscan") / "sprawlscan.db"
ENV_DB = "SPRAWLSCAN_DB"


def db_path(explicit: Path | None, *, default: bool) -> Path | None:
    """`--db`, else `$SPRAWLSCAN_DB`, else (when `default`) `.sprawlscan/sprawlscan.db`."""
    if explicit is not None:
        return explicit
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    return DEFAULT_DB if default else None


def open_existing(explicit: Path | None) -> Store:
    """Open the datastore for reading commands; a missing file is an error, not a new store."""
    path = db_path(explicit, default=True)
    assert path is not None
    if not path.is_file():
        raise ConfigError(f"{path}: no datastore here (record scans with `sprawlscan scan --db "
                          f"{path} ...`)")
    return Store(path)


__all__ = ["DEFAULT_DB", "ENV_DB", "EVENT_KINDS", "SCHEMA_VERSION", "ScanDiff", "ScanInfo",
           "Store", "StoreBlobCache", "db_path", "open_existing"]
