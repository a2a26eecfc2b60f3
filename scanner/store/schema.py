"""The datastore's schema, versioned with `PRAGMA user_version`: `MIGRATIONS[n]` takes a database at
version n to n + 1. `migrate` applies what is missing in one write transaction when a store is
opened (two processes opening a fresh file at once: the second waits, then finds nothing to do).

Nothing here holds a plaintext secret: credentials are fingerprints (`scanner.fingerprints`: the
SHA-256, or for a guessable value its HMAC under the key in `settings`) and redacted previews.
NULL-able location fields are stored as '' / 0 so that the UNIQUE key treats them as equal.
WITHOUT ROWID tables declare their key columns first: SQLite 3.40's `integrity_check` reports
false NOT NULL errors otherwise."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from scanner.errors import ConfigError


class Rows(Protocol):
    """What `Conn.execute` gives back: positional rows."""

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A datastore connection: `sqlite3.Connection`, or `postgres.PgConnection` speaking like it."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Rows: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any: ...
    def close(self) -> None: ...

V1 = """
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT,
    sources TEXT NOT NULL,          -- JSON list of targets as given
    scope TEXT NOT NULL,            -- mode + resolved targets: scans of one scope are comparable
    mode TEXT NOT NULL,             -- full | staged | diff
    tool_version TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    reasons TEXT NOT NULL DEFAULT '[]',   -- JSON list: why incomplete
    stats TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE credentials (
    fingerprint TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    redacted TEXT NOT NULL,
    lifetime_hint TEXT NOT NULL,
    captures TEXT NOT NULL DEFAULT '{}',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active'   -- active | gone | allowlisted
);
CREATE TABLE locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL REFERENCES credentials(fingerprint),
    source TEXT NOT NULL,
    container TEXT NOT NULL,
    path TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    UNIQUE (fingerprint, source, container, path, commit_id, line, url)
);
CREATE TABLE scan_locations (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    location_id INTEGER NOT NULL REFERENCES locations(id),
    state TEXT NOT NULL,
    PRIMARY KEY (scan_id, location_id)
) WITHOUT ROWID;
CREATE TABLE scanned_blobs (
    repo TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    blob TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    PRIMARY KEY (repo, rules_digest, blob)
) WITHOUT ROWID;
CREATE TABLE blob_matches (
    repo TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    blob TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    provider TEXT NOT NULL,
    redacted TEXT NOT NULL,
    lifetime_hint TEXT NOT NULL,
    captures TEXT NOT NULL,
    PRIMARY KEY (repo, rules_digest, blob, fingerprint, rule_id, line)
) WITHOUT ROWID;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,             -- found | location-added | gone | reappeared | allowlisted | agent-retired
    scan_id INTEGER,
    fingerprint TEXT,
    subject TEXT,                   -- a location, an agent id...
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_fingerprint ON events(fingerprint);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""

V2 = """
ALTER TABLE credentials ADD COLUMN severity TEXT NOT NULL DEFAULT 'high';
ALTER TABLE scan_locations ADD COLUMN attributes TEXT NOT NULL DEFAULT '[]';  -- [[key, value]...]
ALTER TABLE scans ADD COLUMN facts TEXT NOT NULL DEFAULT '[]';  -- InventoryFacts, without content
CREATE INDEX locations_fingerprint ON locations(fingerprint);
CREATE TABLE graph_nodes (
    id TEXT PRIMARY KEY,            -- JSON-encoded node key (a string or an integer)
    kind TEXT NOT NULL,
    attrs TEXT NOT NULL
);
CREATE TABLE graph_edges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    key TEXT NOT NULL,              -- JSON-encoded MultiDiGraph edge key
    kind TEXT NOT NULL,
    attrs TEXT NOT NULL
);
CREATE TABLE repo_attribution (
    repo TEXT PRIMARY KEY,
    refs_state TEXT NOT NULL,       -- SHA-256 of every ref and HEAD when it was computed
    missing INTEGER NOT NULL,
    data BLOB NOT NULL              -- zlib(JSON {blob: {path: first commit}})
);
CREATE TABLE graph_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved TEXT NOT NULL,
    scan_id INTEGER,
    attrs TEXT NOT NULL
);
"""

V3 = """
CREATE TABLE record_texts (
    sha256 TEXT PRIMARY KEY,        -- SHA-256 of the (redacted) text
    content TEXT NOT NULL           -- a record's file text, every value a rule finds redacted
);
ALTER TABLE scans ADD COLUMN records INTEGER NOT NULL DEFAULT 0;  -- 1: facts hold the graph's records
"""

V4 = """
CREATE TABLE settings (
    name TEXT PRIMARY KEY,          -- fingerprint_key: the HMAC key of low-entropy values
    value TEXT NOT NULL
);
ALTER TABLE credentials ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;   -- 1: HMAC, not SHA-256
ALTER TABLE blob_matches ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
"""

V5 = """
CREATE TABLE fact_sets (
    sha256 TEXT PRIMARY KEY,        -- SHA-256 of `facts`
    facts TEXT NOT NULL             -- a scan's records as JSON rows, stored once for every scan with the same
);
ALTER TABLE scans ADD COLUMN facts_sha256 TEXT;  -- the scan's records in fact_sets (NULL: in scans.facts)
"""

V6 = """
CREATE TABLE etags (
    scope TEXT NOT NULL,            -- rules digest + fingerprint key + allowlist: carried findings stay valid
    url TEXT NOT NULL,              -- the API request (no token: that travels as a header)
    repo TEXT NOT NULL,
    kind TEXT NOT NULL,             -- issues | issue-comments | review-comments
    etag TEXT NOT NULL,
    scan_id INTEGER NOT NULL,       -- the scan whose locations hold what the answer held
    facts TEXT NOT NULL DEFAULT '[]', -- JSON rows of the records it gave (secret names; never a value)
    PRIMARY KEY (scope, url)
) WITHOUT ROWID;
CREATE INDEX etags_repo ON etags(scope, repo);
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6)
"""`MIGRATIONS[n]`: version n → n + 1. Append only; never edit a released step."""

SCHEMA_VERSION = len(MIGRATIONS)


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the database to `target`; gives the version it was at. The connection must be in
    autocommit mode (isolation_level None): each step runs in one immediate transaction."""
    start = version(conn)
    if start > SCHEMA_VERSION:
        raise ConfigError(f"datastore schema version {start} is newer than this sprawlscan "
                          f"understands ({SCHEMA_VERSION}); upgrade sprawlscan")
    if start >= target:
        return start
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)  # another process may have migrated while we waited
        for n in range(current, target):
            for statement in _statements(MIGRATIONS[n]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {n + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return start


def _statements(script: str) -> list[str]:
    """Split a migration into statements (`executescript` would commit our transaction)."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
