"""Table report for a terminal: one row per credential (rule, provider, redacted value, the
shortest unique fingerprint prefix that `--allowlist` and baselines accept, copies, first
location), then the scan summary with every skip counted."""

from __future__ import annotations

import io

from scanner.findings import unique_prefixes
from scanner.model import Location, ScanResult
from scanner.reports.safe import clean, console as safe_console
from scanner.verify.base import Verification


def describe(loc: Location) -> str:
    where = f"{loc.container}:" if loc.container else ""
    where += loc.path or f"blob {dict(loc.attributes).get('blob', '?')[:12]}"
    if loc.line:
        where += f":{loc.line}"
    if loc.commit:
        where += f" @{loc.commit[:10]}"
    return f"{loc.source} {where} ({loc.state})"


def verified_cell(v: Verification | None) -> str:
    """`valid: alice (user, human)`, `invalid`, `error: <why>`, `unknown`."""
    if v is None:
        return "-"
    if v.status == "valid" and v.identity:
        who = v.identity.name or v.identity.id or "?"
        human = {True: ", human", False: ", machine", None: ""}[v.identity.human]
        return f"valid: {who} ({v.identity.kind}{human})"
    if v.status == "error":
        return f"error: {v.detail}"
    return v.status


def render(result: ScanResult) -> str:
    buf = io.StringIO()
    from rich.table import Table

    console = safe_console(buf)
    table = Table(title=f"{len(result.credentials)} credential(s)")
    verified = result.verifications
    cols = ("rule", "provider", "secret", "fingerprint", "copies", "first location") + (("verified",) if verified is not None else ())
    for col in cols:
        table.add_column(col, overflow="fold")
    short = unique_prefixes([c.fingerprint for c in result.credentials])
    for cred in result.credentials:
        first = describe(cred.locations[0]) if cred.locations else "-"
        row = [cred.rule_id, cred.provider, cred.redacted,
               short[cred.fingerprint] + (" keyed" if cred.keyed else ""),
               str(len(cred.locations)), first]
        if verified is not None:
            row.append(verified_cell(verified.get(cred.fingerprint)))
        table.add_row(*map(clean, row))
    console.print(table)
    s = result.stats
    skipped = clean(", ".join(f"{k}={v}" for k, v in sorted(s.skipped.items())) or "none")
    console.print(f"scanned {s.chunks} chunk(s), {s.bytes} bytes, {s.blobs} git blob(s); skipped: {skipped}")
    if s.config:
        console.print(f"config: {clean(s.config)}")
    for note in s.warnings:
        console.print(f"WARNING: {clean(note)}")
    for err in s.errors:
        console.print(f"INCOMPLETE: {clean(err)}")
    return buf.getvalue()
