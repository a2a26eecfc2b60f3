"""Table report for a terminal: one row per credential (rule, provider, redacted value, copies,
first location), then the scan summary with every skip counted."""

from __future__ import annotations

import io

from rich.table import Table

from scanner.model import Location, ScanResult
from scanner.reports.safe import clean, console as safe_console


def describe(loc: Location) -> str:
    where = f"{loc.container}:" if loc.container else ""
    where += loc.path or f"blob {dict(loc.attributes).get('blob', '?')[:12]}"
    if loc.line:
        where += f":{loc.line}"
    if loc.commit:
        where += f" @{loc.commit[:10]}"
    return f"{loc.source} {where} ({loc.state})"


def render(result: ScanResult) -> str:
    buf = io.StringIO()
    console = safe_console(buf)
    table = Table(title=f"{len(result.credentials)} credential(s)")
    for col in ("rule", "provider", "secret", "copies", "first location"):
        table.add_column(col, overflow="fold")
    for cred in result.credentials:
        first = describe(cred.locations[0]) if cred.locations else "-"
        table.add_row(*map(clean, (cred.rule_id, cred.provider, cred.redacted,
                                   len(cred.locations), first)))
    console.print(table)
    s = result.stats
    skipped = clean(", ".join(f"{k}={v}" for k, v in sorted(s.skipped.items())) or "none")
    console.print(f"scanned {s.chunks} chunk(s), {s.bytes} bytes, {s.blobs} git blob(s); skipped: {skipped}")
    for err in s.errors:
        console.print(f"INCOMPLETE: {clean(err)}")
    return buf.getvalue()
