"""The datastore (SQLite, or PostgreSQL through `postgres.py`): where scans are remembered. Takes
`ScanResult`s (and graphs, see graph.py), gives back results, diffs between scans and the event
log, without re-scanning.

One `Store` is one connection in autocommit mode; every write is one `BEGIN IMMEDIATE`
transaction, the file is in WAL mode with a busy timeout, so two processes scanning into the same
file (a scheduled job overlapping a manual run) serialise their writes instead of failing or
losing findings. On PostgreSQL only the writes that read before they write take the writers'
advisory lock (recording a scan's credentials, locations and `gone` events, the graph,
migrations); the writes that only insert, each row safe under `ON CONFLICT` and in a sorted
order (a scan's row, the blobs each unit read, appended events, the fingerprint key), run beside
them. A writer kept waiting longer than the timeout (`SPRAWLSCAN_DB_TIMEOUT` seconds, default
60) stops with one line and exit 3 (`DatastoreBusy`). Only fingerprints and redacted previews are
stored, never a plaintext secret.

Lifecycle of a credential (`credentials.status`, each change an event): `found` the first time,
`location-added` for each new copy, `gone` when a complete full scan no longer sees it where it
was seen last and no other scope's latest complete scan sees it, `reappeared` when seen again,
`allowlisted` when the allowlist suppresses it. Incomplete scans and the CI modes only add."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from scanner import __version__
from scanner.errors import ConfigError, DatastoreBusy
from scanner.findings import to_known
from scanner.fingerprints import MIN_KEY_CHARS, new_key
from scanner.model import Credential, InventoryFact, KnownMatch, Location, Match, ScanResult
from scanner.sources.base import BlobPaths, Hit, RepoSlice, Stored
from scanner.store.graph import GraphMixin
from scanner.store.queries import ReadMixin, scan_fingerprints
from scanner.store.postgres import PgConnection, is_url, pg_migrate, pg_version
from scanner.store.schema import Conn, migrate
from scanner.verify.base import Verification

BUSY_TIMEOUT_MS = 60_000
ENV_TIMEOUT = "SPRAWLSCAN_DB_TIMEOUT"
BUSY_STATES = ("55P03", "40P01")
"""PostgreSQL's lock_not_available (lock_timeout) and deadlock_detected: another writer's doing."""
EVENT_KINDS = ("found", "location-added", "gone", "reappeared", "allowlisted", "agent-retired",
               "verified", "revoked", "notified")


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def timeout_ms() -> int:
    """The lock / busy timeout: `$SPRAWLSCAN_DB_TIMEOUT` seconds, else BUSY_TIMEOUT_MS."""
    raw = os.environ.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return BUSY_TIMEOUT_MS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86_400:
        raise ConfigError(f"{ENV_TIMEOUT}={raw!r}: expected seconds between 0 and 86400")
    return max(1, int(seconds * 1000))


def busy(exc: BaseException) -> bool:
    """A write that failed because another writer held what it needed past the timeout."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return getattr(exc, "sqlstate", None) in BUSY_STATES


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def scope_of(targets: Sequence[str], mode: str) -> str:
    """Scans with the same mode and the same resolved targets are comparable."""
    norm = []
    for t in targets:
        scheme, sep, rest = t.partition(":")
        if sep and len(scheme) > 1 and not Path(t).exists():
            norm.append(f"{scheme}:{Path(rest).resolve() if Path(rest).exists() else rest}")
        else:
            norm.append(str(Path(t).resolve()))
    return json.dumps([mode, sorted(norm)])


def loc_key(loc: Location) -> tuple[str, str, str, str, int, str]:
    return (loc.source, loc.container, loc.path, loc.commit or "", loc.line or 0, loc.url or "")


def describe(loc: Location) -> str:
    where = f"{loc.container}:{loc.path}" if loc.container else loc.path
    if loc.line:
        where += f":{loc.line}"
    if loc.commit:
        where += f"@{loc.commit[:12]}"
    return f"{loc.source} {where}"


class Store(ReadMixin, GraphMixin):
    """An open datastore. Use as a context manager or call `close()`."""

    def __init__(self, path: str | Path, busy_timeout_ms: int | None = None, *,
                 create: bool = True) -> None:
        self.path: str | Path
        self.conn: Conn
        busy_timeout_ms = timeout_ms() if busy_timeout_ms is None else busy_timeout_ms
        self.timeout_ms = busy_timeout_ms
        if is_url(path):
            self._open_postgres(str(path), busy_timeout_ms, create)
            return
        self.path = Path(path)
        self.where = str(self.path)
        self.errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=busy_timeout_ms / 1000,
                                   isolation_level=None, check_same_thread=False)
            self.conn = conn
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._setup(conn, busy_timeout_ms / 1000)
        except sqlite3.DatabaseError as exc:
            if busy(exc):  # another process migrating or writing, past the timeout
                raise self._write_error(exc) from None
            raise ConfigError(f"{path}: not a usable sprawlscan datastore ({exc})") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot open datastore ({exc.strerror})") from None

    def _open_postgres(self, url: str, busy_timeout_ms: int, create: bool) -> None:
        conn = PgConnection(url, busy_timeout_ms)
        self.path = self.where = conn.where
        self.conn, self.errors = conn, conn.errors
        try:
            if not create and pg_version(conn) == 0:
                raise ConfigError(f"{self.where}: no datastore here (record scans with "
                                  f"`sprawlscan scan --db URL ...`)")
            pg_migrate(conn)
        except conn.errors as exc:
            conn.close()
            if busy(exc):  # another process migrating, past the lock timeout
                raise self._write_error(exc) from None
            raise ConfigError(f"{self.where}: not a usable sprawlscan datastore "
                              f"({str(exc).strip().splitlines()[0]})") from None
        except BaseException:
            conn.close()
            raise

    @staticmethod
    def _setup(conn: sqlite3.Connection, timeout: float) -> None:
        """WAL mode and migrations. Switching the journal mode (or recovering a WAL another
        process is checkpointing away as it closes) can fail with "locked" at once, without
        SQLite's busy handler: retried here until the busy timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                migrate(conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self, *, serial: bool = True) -> Iterator[Conn]:
        """One write transaction, waiting for other writers up to the timeout. `serial` (the
        default): exclusive among writers (SQLite's write lock; PostgreSQL's advisory lock),
        for writes that read what they then change. `serial=False` is for inserts that are
        safe beside any other writer; on SQLite every write is exclusive anyway."""
        begin = "BEGIN IMMEDIATE" if serial or isinstance(self.conn, sqlite3.Connection) else "BEGIN"
        try:
            self.conn.execute(begin)
        except self.errors as exc:  # locked beyond the busy timeout, read-only...
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self._write_error(exc) from None
        try:
            yield self.conn
        except self.errors as exc:  # a row another writer holds, past the lock timeout
            self.conn.execute("ROLLBACK")
            if not busy(exc):
                raise
            raise self._write_error(exc) from None
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except self.errors as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self._write_error(exc) from None

    def _write_error(self, exc: BaseException) -> ConfigError | DatastoreBusy:
        if getattr(exc, "sqlstate", None) == "40P01":
            return DatastoreBusy(f"{self.where}: this write deadlocked with another writer and "
                                 f"stored nothing ({_line(exc)})")
        if busy(exc):
            return DatastoreBusy(f"{self.where}: another writer held the datastore longer than "
                                 f"the lock timeout ({self.timeout_ms / 1000:g} s); nothing of "
                                 f"this write was stored ({_line(exc)})")
        return ConfigError(f"{self.where}: cannot write to the datastore ({_line(exc)})")

    def fingerprint_key(self) -> str:
        """This datastore's own random HMAC key for low-entropy values (`scanner.fingerprints`),
        created on first use; two first scans at once agree on one."""
        row = self.conn.execute("SELECT value FROM settings WHERE name = 'fingerprint_key'").fetchone()
        if row is None:
            with self.write(serial=False) as c:  # ON CONFLICT: the first key stays
                c.execute("INSERT INTO settings (name, value) VALUES ('fingerprint_key', ?) "
                          "ON CONFLICT (name) DO NOTHING", (new_key(),))
                row = c.execute("SELECT value FROM settings WHERE name = 'fingerprint_key'").fetchone()
        if not isinstance(row[0], str) or len(row[0]) < MIN_KEY_CHARS:
            raise ConfigError(f"{self.where}: the datastore was tampered with: table settings "
                              f"should hold a fingerprint key of at least {MIN_KEY_CHARS} characters")
        return row[0]

    # -- scans -----------------------------------------------------------------------------
    def begin_scan(self, targets: Sequence[str], mode: str, rules_digest: str) -> int:
        with self.write(serial=False) as c:  # one new row; its id from the sequence
            cur = c.execute(
                "INSERT INTO scans (started, sources, scope, mode, tool_version, rules_digest) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (now(), json.dumps(list(targets)), scope_of(targets, mode), mode, __version__,
                 rules_digest))
            return int(cur.fetchone()[0])

    def blob_cache(self, rules_digest: str, etag_scope: str = "") -> StoreBlobCache:
        return StoreBlobCache(self.conn, rules_digest, etag_scope)

    def save_blobs(self, scan_id: int, cache: StoreBlobCache) -> None:
        """Write what the scan has read so far (after each unit: the buffer stays one unit's),
        and forget the unit's known blobs (the coordinator keeps no repository's blob ids)."""
        if cache.recorded or cache._attributions:
            with self.write(serial=False) as c:  # inserts only, in key order
                cache.flush(c, scan_id)
        cache.forget()

    def finish_scan(self, scan_id: int, result: ScanResult,
                    cache: StoreBlobCache | None = None) -> None:
        """Record a scan's result, its events and the blobs it scanned, in one transaction."""
        ts = now()
        severity = {r.id: r.severity for r in result.rules}
        with self.write() as c:
            if cache is not None:
                cache.flush(c, scan_id)
            row = c.execute("SELECT mode, scope FROM scans WHERE id = ?", (scan_id,)).fetchone()
            if row is None:
                raise ConfigError(f"scan {scan_id} is not in the datastore")
            mode, scope = row
            for cred in result.credentials:
                self._record_credential(c, scan_id, ts, cred, severity.get(cred.rule_id, "high"))
            for fp in sorted(result.allowlisted):
                self._record_allowlisted(c, scan_id, ts, fp)
            complete = not result.incomplete
            facts = json.dumps(self._record_facts(c, result), sort_keys=True)
            # a rescan of unchanged sources has the same records: stored once, named by hash
            facts_sha = hashlib.sha256(facts.encode("utf-8", "surrogatepass")).hexdigest()
            c.execute("INSERT INTO fact_sets (sha256, facts) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      (facts_sha, facts))
            c.execute("UPDATE scans SET finished = ?, complete = ?, reasons = ?, stats = ?, "
                      "facts = '[]', facts_sha256 = ?, records = 1 WHERE id = ?",
                      (ts, int(complete), json.dumps(result.stats.errors),
                       json.dumps(result.stats.to_json()), facts_sha, scan_id))
            if complete and mode == "full":
                self._mark_gone(c, scan_id, scope, ts)

    @staticmethod
    def _record_facts(c: Conn, result: ScanResult) -> list[dict[str, Any]]:
        """The scan's records as JSON rows; file text goes to `record_texts` once per content,
        named by its SHA-256. The text is what `run_scan` gives: redacted when the scan made its
        records (every value a rule finds replaced by its preview)."""
        facts: list[dict[str, Any]] = []
        texts: dict[str, str] = {}
        for f in result.facts:
            row = asdict(f)
            content = row.pop("content")
            if content:
                row["content_sha256"] = hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()
                texts[row["content_sha256"]] = content
            facts.append(row)
        c.executemany("INSERT INTO record_texts (sha256, content) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      sorted(texts.items()))
        return facts

    def _record_credential(self, c: Conn, scan_id: int, ts: str, cred: Credential,
                           severity: str) -> None:
        fp = cred.fingerprint
        row = c.execute("SELECT status FROM credentials WHERE fingerprint = ?", (fp,)).fetchone()
        if row is None:
            c.execute("INSERT INTO credentials (fingerprint, rule_id, provider, redacted, "
                      "lifetime_hint, captures, first_seen, last_seen, status, severity, keyed) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                      (fp, cred.rule_id, cred.provider, cred.redacted, cred.lifetime_hint,
                       json.dumps(dict(cred.captures)), ts, ts, severity, int(cred.keyed)))
            self._event(c, "found", scan_id, fp, None, {"rule_id": cred.rule_id}, ts)
        else:
            # the latest scan names it (a format rule may have replaced `declared.secret`)
            c.execute("UPDATE credentials SET last_seen = ?, status = 'active', severity = ?, "
                      "rule_id = ?, provider = ?, lifetime_hint = ?, captures = ? "
                      "WHERE fingerprint = ?",
                      (ts, severity, cred.rule_id, cred.provider, cred.lifetime_hint,
                       json.dumps(dict(cred.captures)), fp))
            if row[0] != "active":
                self._event(c, "reappeared", scan_id, fp, None, {"was": row[0]}, ts)
        for loc in cred.locations:
            key = loc_key(loc)
            hit = c.execute("SELECT id FROM locations WHERE fingerprint = ? AND source = ? AND "
                            "container = ? AND path = ? AND commit_id = ? AND line = ? AND url = ?",
                            (fp, *key)).fetchone()
            if hit is None:
                cur = c.execute("INSERT INTO locations (fingerprint, source, container, path, "
                                "commit_id, line, url, state, first_seen, last_seen) VALUES "
                                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                (fp, *key, loc.state, ts, ts))
                loc_id = int(cur.fetchone()[0])
                if row is not None:
                    self._event(c, "location-added", scan_id, fp, describe(loc), loc.to_json(), ts)
            else:
                loc_id = hit[0]
                c.execute("UPDATE locations SET last_seen = ?, state = ? WHERE id = ?",
                          (ts, loc.state, loc_id))
            c.execute("INSERT INTO scan_locations (scan_id, location_id, state, attributes) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT (scan_id, location_id) DO UPDATE SET "
                      "state = excluded.state, attributes = excluded.attributes",
                      (scan_id, loc_id, loc.state, json.dumps(loc.attributes)))

    def _record_allowlisted(self, c: Conn, scan_id: int, ts: str, fp: str) -> None:
        last = c.execute("SELECT kind FROM events WHERE fingerprint = ? ORDER BY id DESC LIMIT 1",
                         (fp,)).fetchone()
        if last is not None and last[0] == "allowlisted":
            return
        c.execute("UPDATE credentials SET status = 'allowlisted' WHERE fingerprint = ?", (fp,))
        self._event(c, "allowlisted", scan_id, fp, None, {}, ts)

    def _mark_gone(self, c: Conn, scan_id: int, scope: str, ts: str) -> None:
        prev = c.execute("SELECT MAX(id) FROM scans WHERE scope = ? AND complete = 1 AND id < ?",
                         (scope, scan_id)).fetchone()[0]
        if prev is None:
            return
        present: set[str] = set()
        for (latest,) in c.execute("SELECT MAX(id) FROM scans WHERE complete = 1 AND mode = 'full'"
                                   " GROUP BY scope").fetchall():
            present |= scan_fingerprints(c, latest)
        for fp in sorted(scan_fingerprints(c, prev) - present):
            status = c.execute("SELECT status FROM credentials WHERE fingerprint = ?",
                               (fp,)).fetchone()
            if status and status[0] == "active":
                c.execute("UPDATE credentials SET status = 'gone' WHERE fingerprint = ?", (fp,))
                self._event(c, "gone", scan_id, fp, None, {"last_scan": prev}, ts)

    # -- events ----------------------------------------------------------------------------
    @staticmethod
    def _event(c: Conn, kind: str, scan_id: int | None, fp: str | None,
               subject: str | None, detail: dict[str, Any], ts: str | None = None) -> None:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        c.execute("INSERT INTO events (at, kind, scan_id, fingerprint, subject, detail) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  (ts or now(), kind, scan_id, fp, subject, json.dumps(detail, sort_keys=True)))

    def add_event(self, kind: str, *, fingerprint: str | None = None, subject: str | None = None,
                  detail: dict[str, Any] | None = None) -> None:
        """Append an event from outside a scan (e.g. `agent-retired` with the agent as subject)."""
        with self.write(serial=False) as c:
            self._event(c, kind, None, fingerprint, subject, detail or {})

    # -- provider verification (`--verify`) ------------------------------------------------
    def record_verifications(self, scan_id: int | None, verified: Mapping[str, Verification]) -> int:
        """One `verified` event per credential newly asked (status, identity, scopes, expiry;
        never the value); answers reused from the datastore are not recorded again."""
        fresh = [(fp, v) for fp, v in sorted(verified.items()) if not v.reused]
        with self.write(serial=False) as c:
            for fp, v in fresh:
                self._event(c, "verified", scan_id, fp, v.verifier or None, v.to_json(), v.checked_at)
        return len(fresh)

    def recent_verifications(self, ttl: timedelta) -> dict[str, Verification]:
        """fingerprint → the latest `verified` event younger than `ttl` (statuses `error` and
        `unknown` are not reused: they said nothing about the credential)."""
        since = (datetime.now(UTC) - ttl).isoformat()
        rows = self.conn.execute("SELECT fingerprint, detail FROM events WHERE kind = 'verified' AND "
                                 "at >= ? ORDER BY id", (since,)).fetchall()
        out: dict[str, Verification] = {}
        for fp, detail in rows:
            v = Verification.from_json(json.loads(detail), reused=True)
            if v.status in ("valid", "invalid"):
                out[fp] = v
            else:
                out.pop(fp, None)
        return out


def tampered(table: str, repo: str, expected: str) -> ConfigError:
    """A datastore row that fails validation (edited, truncated or corrupted): one line."""
    return ConfigError(f"datastore row of {table} for {repo} fails validation (expected {expected}); "
                       "the datastore was altered: restore it or start a new one with --db")


class StoreBlobCache:
    """The `BlobCache` of one scan: reads what earlier scans with the same rules digest recorded,
    buffers what this scan reads, and writes it in the scan's final transaction."""

    def __init__(self, conn: Conn, rules_digest: str, etag_scope: str = "") -> None:
        self.conn = conn
        self.digest = rules_digest
        self.etag_scope = etag_scope
        """Key of the stored ETags ('': none read or written)."""
        self._etags: dict[str, dict[str, Stored]] = {}
        self._new_etags: list[tuple[str, str, str, Stored]] = []
        self._known: dict[str, set[str]] = {}
        self._matches: dict[str, dict[str, list[KnownMatch]]] = {}
        self._new: list[tuple[str, str, list[KnownMatch]]] = []
        self._attributions: dict[str, tuple[str, BlobPaths, int]] = {}

    def warm(self, repo: str) -> bool:
        return self.conn.execute("SELECT 1 FROM scanned_blobs WHERE repo = ? AND rules_digest = ? "
                                 "LIMIT 1", (repo, self.digest)).fetchone() is not None

    def known(self, repo: str, blob: str) -> bool:
        if repo not in self._known:
            self._known[repo] = {r[0] for r in self.conn.execute(
                "SELECT blob FROM scanned_blobs WHERE repo = ? AND rules_digest = ?",
                (repo, self.digest))}
        return blob in self._known[repo]

    def record(self, repo: str, blob: str, matches: Sequence[Match]) -> None:
        self._new.append((repo, blob, [to_known(m) for m in matches]))

    def matches(self, repo: str, blob: str) -> Sequence[KnownMatch]:
        if repo not in self._matches:
            self._matches[repo] = self._load_matches(repo)
        return self._matches[repo].get(blob, [])

    def slice(self, repo: str) -> RepoSlice:
        """What a unit task needs to skip `repo`'s known blobs (read now, not kept here: the
        coordinator holds one repository's blobs only while its task is dispatched)."""
        known: dict[str, list[KnownMatch]] = {r[0]: [] for r in self.conn.execute(
            "SELECT blob FROM scanned_blobs WHERE repo = ? AND rules_digest = ?", (repo, self.digest))}
        known.update(self._load_matches(repo))
        row = self.conn.execute("SELECT refs_state FROM repo_attribution WHERE repo = ?",
                                (repo,)).fetchone()
        stored = self.attribution(repo, str(row[0])) if row is not None else None
        return RepoSlice(known, (str(row[0]), *stored) if row is not None and stored else None,
                         self.load_etags(repo))

    def etag(self, repo: str, url: str) -> Stored | None:
        if repo not in self._etags:
            self._etags[repo] = self.load_etags(repo)
        return self._etags[repo].get(url)

    def save_etag(self, repo: str, url: str, kind: str, stored: Stored) -> None:
        if self.etag_scope:
            self._new_etags.append((repo, url, kind, stored))

    def load_etags(self, repo: str) -> dict[str, Stored]:
        """url → its ETag and what the answer held: the locations, in the finished scan that
        stored the ETag, of that list's kind in `repo`, and the records stored with it (secret
        names). Only an answer read to its end is stored (a failed one is asked again in full),
        only for this scope (same rules, fingerprint key, allowlist and size limit)."""
        if not self.etag_scope:
            return {}
        out: dict[str, Stored] = {}
        by_scan: dict[int, list[tuple[tuple[str, str], Hit]]] = {}
        for url, kind, etag, scan_id, facts in self.conn.execute(
                "SELECT e.url, e.kind, e.etag, e.scan_id, e.facts FROM etags e JOIN scans s ON "
                "s.id = e.scan_id WHERE e.scope = ? AND e.repo = ? AND s.finished IS NOT NULL",
                (self.etag_scope, repo)).fetchall():
            try:
                records = [InventoryFact(*map(str, f)) for f in json.loads(facts)]
            except (ValueError, TypeError):
                raise tampered("etags", repo, "facts as a JSON list of rows") from None
            if scan_id not in by_scan:
                by_scan[scan_id] = self._located(scan_id, repo)
            hits = [hit for (source, path), hit in by_scan[scan_id] if _of_kind(kind, source, path)]
            out[str(url)] = Stored(str(etag), hits, records)
        return out

    def _located(self, scan_id: int, repo: str) -> list[tuple[tuple[str, str], Hit]]:
        """Every GitHub issue, PR and review-comment location of `repo` in scan `scan_id` as a
        carried hit, with its (source, path)."""
        hits: list[tuple[tuple[str, str], Hit]] = []
        for r in self.conn.execute(
                "SELECT c.fingerprint, c.rule_id, c.provider, c.redacted, c.lifetime_hint, "
                "c.captures, c.keyed, l.source, l.path, l.commit_id, l.line, l.url, sl.state, "
                "sl.attributes FROM scan_locations sl JOIN locations l ON l.id = sl.location_id "
                "JOIN credentials c ON c.fingerprint = l.fingerprint WHERE sl.scan_id = ? AND "
                "l.container = ? AND l.source IN ('github-issue', 'github-pr', "
                "'github-review-comment') ORDER BY l.id", (scan_id, repo)):
            try:
                captures = tuple(sorted((str(k), str(v)) for k, v in json.loads(r[5]).items()))
                attrs = tuple((str(k), str(v)) for k, v in json.loads(r[13]))
                known = KnownMatch(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[10]),
                                   str(r[4]), captures, bool(r[6]))
            except (ValueError, TypeError, AttributeError):
                raise tampered("locations", repo, "captures and attributes as JSON") from None
            loc = Location(str(r[7]), repo, str(r[8]), str(r[9]) or None, int(r[10]), str(r[12]),
                           str(r[11]) or None, attrs)
            hits.append(((loc.source, loc.path), (known, (loc,))))
        return hits

    def absorb(self, recorded: Sequence[tuple[str, str, list[Match]]],
               attributions: Mapping[str, tuple[str, BlobPaths, int]]) -> None:
        """What a unit task read (blobs and their matches, attribution passes), to be written
        with the scan; fingerprinted here, under this scan's key."""
        for repo, blob, matches in recorded:
            self.record(repo, blob, matches)
        self._attributions.update(attributions)

    def _load_matches(self, repo: str) -> dict[str, list[KnownMatch]]:
        by_blob: dict[str, list[KnownMatch]] = {}
        for r in self.conn.execute(
                "SELECT blob, fingerprint, rule_id, provider, redacted, line, lifetime_hint, "
                "captures, keyed FROM blob_matches WHERE repo = ? AND rules_digest = ?",
                (repo, self.digest)):
            try:
                captures = json.loads(r[7])
                known = KnownMatch(str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]),
                                   str(r[6]), tuple(sorted((str(k), str(v))
                                                           for k, v in captures.items())),
                                   bool(r[8]))
            except (ValueError, TypeError, AttributeError):
                raise tampered("blob_matches", repo, "captures as a JSON object and an "
                               "integer line") from None
            by_blob.setdefault(r[0], []).append(known)
        return by_blob

    def attribution(self, repo: str, refs_state: str) -> tuple[BlobPaths, int] | None:
        row = self.conn.execute("SELECT missing, data FROM repo_attribution WHERE repo = ? AND "
                                "refs_state = ?", (repo, refs_state)).fetchone()
        if row is None:
            return None
        try:
            first = json.loads(zlib.decompress(row[1]))
            if not isinstance(first, dict) or not all(isinstance(v, dict) for v in first.values()):
                raise ValueError("not a blob → paths object")
            return first, int(row[0])
        except (zlib.error, ValueError, TypeError):
            raise tampered("repo_attribution", repo,
                           "zlib-compressed JSON mapping blob ids to paths") from None

    def save_attribution(self, repo: str, refs_state: str, first: BlobPaths, missing: int) -> None:
        self._attributions[repo] = (refs_state, first, missing)

    def forget(self) -> None:
        """Drop the blob ids and matches read from earlier scans (a finished unit's repositories
        are not asked about again in this scan; asked again, they are read again)."""
        self._known.clear()
        self._matches.clear()
        self._etags.clear()

    @property
    def recorded(self) -> int:
        """Blobs this scan read and will remember."""
        return len(self._new) + len(self._new_etags)

    def flush(self, c: Conn, scan_id: int) -> None:
        """Write what was read; rows in key order, so that two writers inserting the same keys
        beside each other wait for one another instead of deadlocking."""
        self._new.sort(key=lambda item: (item[0], item[1]))
        c.executemany("INSERT INTO scanned_blobs (repo, blob, rules_digest, scan_id) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      [(repo, blob, self.digest, scan_id) for repo, blob, _ in self._new])
        c.executemany(
            "INSERT INTO blob_matches (repo, blob, rules_digest, fingerprint, rule_id, provider, "
            "redacted, lifetime_hint, captures, line, keyed) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
            [(repo, blob, self.digest, m.fingerprint, m.rule_id, m.provider, m.redacted,
              m.lifetime_hint, json.dumps(dict(m.captures)), m.line, int(m.keyed))
             for repo, blob, ms in self._new
             for m in sorted(ms, key=lambda m: (m.fingerprint, m.rule_id, m.line))])
        self._new = []
        c.executemany("INSERT INTO repo_attribution (repo, refs_state, missing, data) "
                      "VALUES (?, ?, ?, ?) ON CONFLICT (repo) DO UPDATE SET refs_state = "
                      "excluded.refs_state, missing = excluded.missing, data = excluded.data",
                      [(repo, state, missing, zlib.compress(json.dumps(first).encode(), 1))
                       for repo, (state, first, missing) in sorted(self._attributions.items())])
        self._attributions = {}
        c.executemany("INSERT INTO etags (scope, url, repo, kind, etag, scan_id, facts) "
                      "VALUES (?,?,?,?,?,?,?) ON CONFLICT (scope, url) DO UPDATE SET "
                      "etag = excluded.etag, scan_id = excluded.scan_id, repo = excluded.repo, "
                      "kind = excluded.kind, facts = excluded.facts",
                      [(self.etag_scope, url, repo, kind, st.etag, scan_id,
                        json.dumps([[f.kind, f.scope, f.name, f.level, f.environment]
                                    for f in st.facts]))
                       for repo, url, kind, st in self._new_etags])
        self._new_etags = []


def _of_kind(kind: str, source: str, path: str) -> bool:
    """Whether a stored GitHub location came from the list endpoint `kind` (secret-name lists
    hold none)."""
    if kind not in ("issues", "issue-comments", "review-comments"):
        return False
    if kind == "review-comments":
        return source == "github-review-comment"
    if source not in ("github-issue", "github-pr"):
        return False
    return "#comment-" in path if kind == "issue-comments" else "#" not in path
