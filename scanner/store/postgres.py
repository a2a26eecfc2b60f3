"""The datastore on PostgreSQL (`--db postgresql://USER[:PASS]@HOST:PORT/DB`): a connection that
speaks to the store's SQL the way `sqlite3` does, and the PostgreSQL spelling of each migration.

The store writes portable SQL (`?` placeholders, `ON CONFLICT`, `RETURNING`); this module turns `?`
into psycopg's `%s` and `BEGIN IMMEDIATE` into a transaction that first takes one advisory lock:
the store's read-then-write transactions (recording a scan's credentials, the graph, migrations)
serialise as on SQLite, while its insert-only ones (`Store.write(serial=False)`: a scan's row,
each unit's blobs) open a plain `BEGIN` and run beside them (many workers scanning into one
database: no lost or doubled finding, no unique-key race). `lock_timeout` bounds every wait. `PG_MIGRATIONS[n]` is `schema.MIGRATIONS[n]` in PostgreSQL types, with
the version in a one-row table instead of `PRAGMA user_version`. psycopg is the extra `postgres`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scanner.errors import ConfigError

URL_SCHEMES = ("postgresql://", "postgres://")
LOCK_KEY = 0x5370_7261_776C  # "Sprawl": the one advisory lock every writer takes

PG_V1 = """
CREATE TABLE scans (
    id SERIAL PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    sources TEXT NOT NULL,
    scope TEXT NOT NULL,
    mode TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    reasons TEXT NOT NULL DEFAULT '[]',
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
    status TEXT NOT NULL DEFAULT 'active'
);
CREATE TABLE locations (
    id SERIAL PRIMARY KEY,
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
);
CREATE TABLE scanned_blobs (
    repo TEXT NOT NULL,
    rules_digest TEXT NOT NULL,
    blob TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    PRIMARY KEY (repo, rules_digest, blob)
);
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
);
CREATE TABLE events (
    id SERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    scan_id INTEGER,
    fingerprint TEXT,
    subject TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_fingerprint ON events(fingerprint);
CREATE FUNCTION sprawlscan_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION sprawlscan_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION sprawlscan_append_only();
"""

# graph_nodes.rowid stands for SQLite's implicit rowid: nodes come back in insertion order
PG_V2 = """
ALTER TABLE credentials ADD COLUMN severity TEXT NOT NULL DEFAULT 'high';
ALTER TABLE scan_locations ADD COLUMN attributes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scans ADD COLUMN facts TEXT NOT NULL DEFAULT '[]';
CREATE INDEX locations_fingerprint ON locations(fingerprint);
CREATE TABLE graph_nodes (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    attrs TEXT NOT NULL,
    rowid BIGSERIAL
);
CREATE TABLE graph_edges (
    seq SERIAL PRIMARY KEY,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    attrs TEXT NOT NULL
);
CREATE TABLE repo_attribution (
    repo TEXT PRIMARY KEY,
    refs_state TEXT NOT NULL,
    missing INTEGER NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE graph_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved TEXT NOT NULL,
    scan_id INTEGER,
    attrs TEXT NOT NULL
);
"""

PG_V3 = """
CREATE TABLE record_texts (
    sha256 TEXT PRIMARY KEY,
    content TEXT NOT NULL
);
ALTER TABLE scans ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
"""

PG_V4 = """
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
ALTER TABLE credentials ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE blob_matches ADD COLUMN keyed INTEGER NOT NULL DEFAULT 0;
"""

PG_V5 = """
CREATE TABLE fact_sets (
    sha256 TEXT PRIMARY KEY,
    facts TEXT NOT NULL
);
ALTER TABLE scans ADD COLUMN facts_sha256 TEXT;
"""

PG_V6 = """
CREATE TABLE etags (
    scope TEXT NOT NULL,
    url TEXT NOT NULL,
    repo TEXT NOT NULL,
    kind TEXT NOT NULL,
    etag TEXT NOT NULL,
    scan_id INTEGER NOT NULL,
    facts TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (scope, url)
);
CREATE INDEX etags_repo ON etags(scope, repo);
"""

PG_MIGRATIONS: tuple[str, ...] = (PG_V1, PG_V2, PG_V3, PG_V4, PG_V5, PG_V6)
"""`PG_MIGRATIONS[n]` is `schema.MIGRATIONS[n]` for PostgreSQL (a test holds them equal)."""


def is_url(db: object) -> bool:
    return isinstance(db, str) and db.startswith(URL_SCHEMES)


def display(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgConnection:
    """A psycopg connection in autocommit mode answering `execute` / `executemany` like sqlite3's
    (positional rows, `?` placeholders); `BEGIN IMMEDIATE` waits for the writers' advisory lock."""

    def __init__(self, url: str, lock_timeout_ms: int) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError("a postgresql:// datastore needs psycopg: pip install "
                              "'sprawlscan[postgres]'") from None
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        self.where = display(url)
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise ConfigError(f"{self.where}: cannot connect to the datastore "
                              f"({_first_line(exc)})") from None
        self._conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        self._conn.execute("SET client_min_messages = warning")

    @staticmethod
    def translate(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        if sql == "BEGIN IMMEDIATE":
            self._conn.execute("BEGIN")
            return self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        return self._conn.execute(self.translate(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(self.translate(sql), rows)  # type: ignore[arg-type]

    def script(self, sql: str) -> None:
        """Several statements, no parameters (a migration step)."""
        self._conn.execute(sql.encode())

    @property
    def in_transaction(self) -> bool:
        from psycopg import pq

        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self._conn.close()


def pg_version(conn: PgConnection) -> int:
    row = conn.execute("SELECT to_regclass('sprawlscan_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = conn.execute("SELECT version FROM sprawlscan_schema").fetchone()
    return int(row[0]) if row else 0


def pg_migrate(conn: PgConnection, target: int = len(PG_MIGRATIONS)) -> int:
    """`schema.migrate` for PostgreSQL: missing steps in one transaction under the writers' lock
    (two processes opening a fresh database at once: the second waits, then finds nothing to do)."""
    start = pg_version(conn)
    if start > len(PG_MIGRATIONS):
        raise ConfigError(f"datastore schema version {start} is newer than this sprawlscan "
                          f"understands ({len(PG_MIGRATIONS)}); upgrade sprawlscan")
    if start >= target:
        return start
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.script("CREATE TABLE IF NOT EXISTS sprawlscan_schema (version INTEGER NOT NULL)")
        current = pg_version(conn)
        for n in range(current, target):
            conn.script(PG_MIGRATIONS[n])
            conn.execute("DELETE FROM sprawlscan_schema")
            conn.execute("INSERT INTO sprawlscan_schema (version) VALUES (?)", (n + 1,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return start
