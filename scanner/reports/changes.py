"""Reports of the datastore's views: the recorded scans, the difference between two scans (what a
scheduled job posts to a channel) and the event log, as a table or JSON. Fingerprints and redacted previews only."""

from __future__ import annotations

import io
import json

from typing import TYPE_CHECKING, Any

from scanner.reports.safe import clean
from scanner.reports.safe import console as _console
from scanner.reports.table import describe

if TYPE_CHECKING:  # rich and the datastore load only when a view is drawn (start-up time)
    from rich.table import Table

    from scanner.store.queries import ScanDiff, ScanInfo

VIEW_FORMATS = ("json", "table")


def _table(**kwargs: Any) -> Table:
    from rich.table import Table

    return Table(**kwargs)


def render_diff(diff: ScanDiff, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diff.to_json(), indent=2) + "\n"
    buf = io.StringIO()
    console = _console(buf)
    console.print(f"scan {diff.scan_a.id} ({diff.scan_a.started}) → scan {diff.scan_b.id} "
                  f"({diff.scan_b.started}): {len(diff.new)} new, {len(diff.still_present)} still "
                  f"present, {len(diff.gone)} gone"
                  + (f", {len(diff.not_compared)} not compared" if diff.not_compared else ""))
    table = _table()
    for col in ("change", "rule", "secret", "fingerprint", "copies", "first location"):
        table.add_column(col, overflow="fold")
    for label, creds in (("new", diff.new), ("still present", diff.still_present),
                         ("gone", diff.gone), ("not compared", diff.not_compared)):
        for c in creds:
            table.add_row(*map(clean, (label, c.rule_id, c.redacted, c.fingerprint[:16],
                                       len(c.locations),
                                       describe(c.locations[0]) if c.locations else "-")))
    console.print(table)
    for sid, only in ((diff.scan_a.id, diff.only_a), (diff.scan_b.id, diff.only_b)):
        if only:
            console.print(f"note: only scan {sid} covered {', '.join(only)}: credentials seen by one scan "
                          "are listed as not compared, never as new or gone")
    for info in (diff.scan_a, diff.scan_b):
        if not info.complete:
            console.print(f"note: scan {info.id} is incomplete: "
                          f"{clean('; '.join(info.reasons)) or 'never finished'}")
    return buf.getvalue()


def render_events(events: list[dict[str, object]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(events, indent=2) + "\n"
    buf = io.StringIO()
    console = _console(buf)
    table = _table(title=f"{len(events)} event(s)")
    for col in ("at", "event", "fingerprint", "scan", "subject"):
        table.add_column(col, overflow="fold")
    for e in events:
        fp = str(e["fingerprint"] or "")
        table.add_row(*map(clean, (e["at"], e["kind"], fp[:16], e["scan_id"] or "",
                                   e["subject"] or "")))
    console.print(table)
    return buf.getvalue()


def render_scans(scans: list[ScanInfo], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([s.to_json() for s in scans], indent=2) + "\n"
    buf = io.StringIO()
    console = _console(buf)
    table = _table(title=f"{len(scans)} scan(s)")
    for col in ("id", "started", "mode", "complete", "sources"):
        table.add_column(col, overflow="fold")
    for s in scans:
        state = "yes" if s.complete else ("no: " + "; ".join(s.reasons) if s.finished else "unfinished")
        table.add_row(*map(clean, (s.id, s.started, s.mode, state, " ".join(s.sources))))
    console.print(table)
    return buf.getvalue()
