"""The datastore (a SQLite file, or PostgreSQL at a `postgresql://` URL): scans, credentials and
locations with first/last seen, scanned git blob ids (incremental rescans), the identity graph, and
an append-only event log (the audit trail).

`db_path(explicit)` decides where: `--db PATH|URL`, else `$SPRAWLSCAN_DB`; `scan` records only when
one of them is given, while the reading commands fall back to `.sprawlscan/sprawlscan.db` in the
working directory. A URL stays a string (a `Path` would fold its `//`)."""

from __future__ import annotations

import os
from pathlib import Path

from scanner.errors import ConfigError
from scanner.store.db import EVENT_KINDS, Store, StoreBlobCache
from scanner.store.postgres import is_url
from scanner.store.queries import ScanDiff, ScanInfo
from scanner.store.schema import SCHEMA_VERSION

DEFAULT_DB = Path(".sprawlscan") / "sprawlscan.db"
ENV_DB = "SPRAWLSCAN_DB"

DbLocation = Path | str
"""A SQLite file, or a `postgresql://` URL (a string)."""


def as_location(value: str | Path) -> DbLocation:
    return str(value) if is_url(str(value)) else Path(value)


def db_path(explicit: DbLocation | None, *, default: bool) -> DbLocation | None:
    """`--db`, else `$SPRAWLSCAN_DB`, else (when `default`) `.sprawlscan/sprawlscan.db`."""
    if explicit is not None:
        return as_location(explicit)
    env = os.environ.get(ENV_DB)
    if env:
        return as_location(env)
    return DEFAULT_DB if default else None


def open_existing(explicit: DbLocation | None) -> Store:
    """Open the datastore for reading commands; a missing file (or a database without the
    schema) is an error, not a new store."""
    path = db_path(explicit, default=True)
    assert path is not None
    if isinstance(path, str):
        return Store(path, create=False)
    if not path.is_file():
        raise ConfigError(f"{path}: no datastore here (record scans with `sprawlscan scan --db "
                          f"{path} ...`)")
    return Store(path)


__all__ = ["DEFAULT_DB", "ENV_DB", "DbLocation", "as_location", "is_url", "EVENT_KINDS", "SCHEMA_VERSION", "ScanDiff", "ScanInfo",
           "Store", "StoreBlobCache", "db_path", "open_existing"]
