"""The datastore's read side: scans, what a scan saw (as a `ScanResult`), the latest complete state
of everything scanned, the difference between two scans, and the event log. Nothing is re-scanned."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from scanner.errors import ConfigError
from scanner.findings import _loc_key
from scanner.store.schema import Conn
from scanner.model import Credential, InventoryFact, Location, ScanResult, ScanStats


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """One recorded scan."""

    id: int
    """Scan id (increasing)."""
    started: str
    """UTC ISO timestamp."""
    finished: str | None
    """UTC ISO timestamp; None while running or when the process died."""
    sources: tuple[str, ...]
    """Targets as given."""
    mode: str
    """`full`, `staged` or `diff`."""
    complete: bool
    """False when a source failed part-way (see `reasons`) or the scan never finished."""
    reasons: tuple[str, ...]
    """Why the scan is incomplete."""
    tool_version: str
    """sprawlscan version that ran it."""
    rules_digest: str
    """SHA-256 of the rules it ran with."""

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "started": self.started, "finished": self.finished,
                "sources": list(self.sources), "mode": self.mode, "complete": self.complete,
                "reasons": list(self.reasons), "tool_version": self.tool_version,
                "rules_digest": self.rules_digest}


@dataclass(frozen=True, slots=True)
class ScanDiff:
    """What changed between two scans."""

    scan_a: ScanInfo
    """The earlier scan."""
    scan_b: ScanInfo
    """The later scan."""
    new: tuple[Credential, ...]
    """In B, not in A."""
    still_present: tuple[Credential, ...]
    """In both (as seen by B)."""
    gone: tuple[Credential, ...]
    """In A, not in B (as seen by A), when B rescanned every source A covered."""
    not_compared: tuple[Credential, ...] = ()
    """Seen by only one of the scans when the scans covered different sources: it may sit in a
    source the other scan did not read, so it is neither `new` nor `gone`."""
    only_a: tuple[str, ...] = ()
    """Sources (resolved targets) scan A covered and B did not."""
    only_b: tuple[str, ...] = ()
    """Sources scan B covered and A did not."""

    def to_json(self) -> dict[str, object]:
        return {"scan_a": self.scan_a.to_json(), "scan_b": self.scan_b.to_json(),
                "new": [c.to_json() for c in self.new],
                "still_present": [c.to_json() for c in self.still_present],
                "gone": [c.to_json() for c in self.gone],
                "not_compared": [c.to_json() for c in self.not_compared],
                "sources_only_in_a": list(self.only_a), "sources_only_in_b": list(self.only_b)}


def scan_fingerprints(c: Conn, scan_id: int) -> set[str]:
    return {r[0] for r in c.execute(
        "SELECT DISTINCT l.fingerprint FROM scan_locations s JOIN locations l "
        "ON l.id = s.location_id WHERE s.scan_id = ?", (scan_id,))}


_SCAN_COLS = "id, started, finished, sources, mode, complete, reasons, tool_version, rules_digest"


def _scan_info(r: tuple[Any, ...]) -> ScanInfo:
    return ScanInfo(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], bool(r[5]),
                    tuple(json.loads(r[6])), r[7], r[8])


class ReadMixin:
    conn: Conn

    def scans(self) -> list[ScanInfo]:
        return [_scan_info(r) for r in self.conn.execute(f"SELECT {_SCAN_COLS} FROM scans ORDER BY id")]

    def scan(self, scan_id: int) -> ScanInfo:
        r = self.conn.execute(f"SELECT {_SCAN_COLS} FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if r is None:
            raise ConfigError(f"no scan {scan_id} in the datastore")
        return _scan_info(r)

    def result(self, *scan_ids: int) -> ScanResult:
        """What the given scans saw, merged: credentials with the locations (and their state)
        those scans recorded, and the records their sources gave (workflow and config file
        texts, redacted, from `record_texts`)."""
        if not scan_ids:
            return ScanResult((), ScanStats())
        marks = ",".join("?" * len(scan_ids))
        rows = self.conn.execute(
            "SELECT DISTINCT c.fingerprint, c.rule_id, c.provider, c.redacted, c.lifetime_hint, "
            "c.captures, l.source, l.container, l.path, l.commit_id, l.line, l.url, s.state, "
            "s.attributes, c.keyed "
            "FROM scan_locations s JOIN locations l ON l.id = s.location_id "
            f"JOIN credentials c ON c.fingerprint = l.fingerprint WHERE s.scan_id IN ({marks}) "
            "ORDER BY c.fingerprint", scan_ids).fetchall()
        creds: dict[str, tuple[tuple[Any, ...], set[Location]]] = {}
        for r in rows:
            attributes = tuple((str(k), str(v)) for k, v in json.loads(r[13]))
            loc = Location(r[6], r[7], r[8], r[9] or None, r[10] or None, r[12], r[11] or None,
                           attributes)
            creds.setdefault(r[0], (r, set()))[1].add(loc)
        out = tuple(
            Credential(fp, r[1], r[2], r[3], tuple(sorted(locs, key=_loc_key)), r[4],
                       tuple(sorted(json.loads(r[5]).items())), bool(r[14]))
            for fp, (r, locs) in sorted(creds.items()))
        stats = ScanStats()
        per_scan = []
        for sid in sorted(scan_ids):
            info = self.scan(sid)
            stats.errors.extend(info.reasons if info.finished else (f"scan {sid} never finished",))
            per_scan.append((sid, [self._fact(f) for f in self._scan_facts(sid)]))
        # a repository / folder (or a forge scope's records of one kind) is as the newest scan
        # that recorded it saw it: an older scan's file deleted since must not be read again
        def key(f: InventoryFact) -> tuple[str, str]:
            return ("local" if f.kind in ("file", "pinned", "git-repo") else f.kind, f.scope)

        newest = {key(f): sid for sid, fs in per_scan for f in fs}
        facts: dict[InventoryFact, None] = {}
        for sid, fs in per_scan:
            for f in fs:
                if newest[key(f)] == sid:
                    facts.pop(f, None)  # the newest copy of a record comes last
                    facts[f] = None
        return ScanResult(out, stats, tuple(facts))

    def _scan_facts(self, scan_id: int) -> list[dict[str, Any]]:
        """A scan's records as JSON rows: in `fact_sets` (shared by every scan that had the same),
        or in `scans.facts` (scans recorded before fact sets)."""
        own, sha = self.conn.execute("SELECT facts, facts_sha256 FROM scans WHERE id = ?",
                                     (scan_id,)).fetchone()
        if sha is None:
            return list(json.loads(own))
        row = self.conn.execute("SELECT facts FROM fact_sets WHERE sha256 = ?", (sha,)).fetchone()
        if row is None or hashlib.sha256(str(row[0]).encode("utf-8", "surrogatepass")).hexdigest() != sha:
            from scanner.store.db import tampered

            raise tampered("fact_sets", f"scan {scan_id}", "the records whose SHA-256 the scan names")
        return list(json.loads(row[0]))

    def _fact(self, row: dict[str, Any]) -> InventoryFact:
        sha = row.pop("content_sha256", None)
        if sha:
            text = self.conn.execute("SELECT content FROM record_texts WHERE sha256 = ?", (sha,)).fetchone()
            row["content"] = text[0] if text else ""
        return InventoryFact(**row)

    def without_records(self, *scan_ids: int) -> list[int]:
        """The scans among these whose graph records were not stored (a datastore written by a
        sprawlscan before records): the graph cannot be built from them."""
        if not scan_ids:
            return []
        marks = ",".join("?" * len(scan_ids))
        return [r[0] for r in self.conn.execute(
            f"SELECT id FROM scans WHERE records = 0 AND id IN ({marks}) ORDER BY id", scan_ids)]

    def latest_complete_scans(self) -> list[int]:
        """The latest complete full scan of each scope."""
        return [r[0] for r in self.conn.execute(
            "SELECT MAX(id) FROM scans WHERE complete = 1 AND mode = 'full' GROUP BY scope "
            "ORDER BY 1")]

    def unsettled_scans(self) -> list[ScanInfo]:
        """Full scans that did not complete (a source failed, or it never finished) and that no
        later complete full scan covering all their targets settles: the newest state of their
        targets is not known, and an older complete scan would answer with stale data."""
        rows = self.conn.execute("SELECT id, scope, complete FROM scans WHERE mode = 'full' ORDER BY id").fetchall()
        targets = {sid: set(json.loads(scope)[1]) for sid, scope, _ in rows}
        done = [sid for sid, _, complete in rows if complete]
        return [self.scan(sid) for sid, _, complete in rows if not complete and
                not any(d > sid and targets[sid] <= targets[d] for d in done)]

    def latest_complete_result(self) -> ScanResult:
        """The current state of everything scanned: the latest complete full scan of each scope,
        merged. An empty datastore is a configuration error (nothing to read)."""
        ids = self.latest_complete_scans()
        if not ids:
            raise ConfigError("the datastore holds no complete scan yet (run `sprawlscan scan --db`)")
        return self.result(*ids)

    def latest_complete_sources(self) -> list[str]:
        """The targets of the latest complete full scans (what the graph commands re-read for
        workflows and configs when they run from the datastore)."""
        out: list[str] = []
        for sid in self.latest_complete_scans():
            out += [t for t in self.scan(sid).sources if t not in out]
        return out

    def diff(self, scan_a: int | None = None, scan_b: int | None = None) -> ScanDiff:
        """new / still present / gone between two scans; default: the latest finished scan and
        the one before it with the same targets and mode."""
        if scan_b is None:
            row = self.conn.execute("SELECT id, scope FROM scans WHERE finished IS NOT NULL "
                                    "ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                raise ConfigError("the datastore holds no finished scan")
            scan_b = row[0]
        if scan_a is None:
            scope = self.conn.execute("SELECT scope FROM scans WHERE id = ?", (scan_b,)).fetchone()
            row = self.conn.execute("SELECT MAX(id) FROM scans WHERE scope = ? AND id < ? AND "
                                    "finished IS NOT NULL", (scope[0] if scope else "", scan_b)).fetchone()
            if row is None or row[0] is None:
                raise ConfigError(f"no earlier scan of the same sources as scan {scan_b} to compare"
                                  " with; give SCAN_A SCAN_B")
            scan_a = row[0]
        info_a, info_b = self.scan(scan_a), self.scan(scan_b)
        a, b = self.result(scan_a).credentials, self.result(scan_b).credentials
        fa, fb = {c.fingerprint for c in a}, {c.fingerprint for c in b}
        ta, tb = self._targets(scan_a), self._targets(scan_b)
        only_a, only_b = tuple(sorted(ta - tb)), tuple(sorted(tb - ta))
        # a credential only one scan saw is new / gone only if the other scan read all it read
        new = tuple(c for c in b if c.fingerprint not in fa)
        gone = tuple(c for c in a if c.fingerprint not in fb)
        not_compared = (new if only_b else ()) + (gone if only_a else ())
        return ScanDiff(info_a, info_b, () if only_b else new, tuple(c for c in b if c.fingerprint in fa),
                        () if only_a else gone, not_compared, only_a, only_b)

    def _targets(self, scan_id: int) -> set[str]:
        """The resolved targets (and mode) a scan covered, from its scope."""
        row = self.conn.execute("SELECT scope FROM scans WHERE id = ?", (scan_id,)).fetchone()
        try:
            mode, targets = json.loads(row[0]) if row else ("", [])
        except (ValueError, TypeError):
            return set()
        return {f"{mode}:{t}" if mode != "full" else str(t) for t in targets}

    def events(self, fingerprint: str | None = None) -> list[dict[str, object]]:
        """The event log, oldest first; for one credential when a fingerprint (or a unique
        prefix of one) is given."""
        sql = "SELECT id, at, kind, scan_id, fingerprint, subject, detail FROM events"
        args: tuple[str, ...] = ()
        if fingerprint:
            sql += " WHERE fingerprint LIKE ?"
            args = (fingerprint.lower() + "%",)
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        return [{"id": r[0], "at": r[1], "kind": r[2], "scan_id": r[3], "fingerprint": r[4],
                 "subject": r[5], "detail": json.loads(r[6])} for r in rows]

    def credential_status(self, fingerprint: str) -> str | None:
        r = self.conn.execute("SELECT status FROM credentials WHERE fingerprint = ?",
                              (fingerprint,)).fetchone()
        return r[0] if r else None
