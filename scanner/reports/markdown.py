"""Markdown summary, sized for a pull-request comment: a headline, one row per credential
(severity, rule, redacted preview, copies, first location), every location folded away, and the
scan summary with skips and incompleteness. Redacted previews and fingerprints only."""

from __future__ import annotations

from scanner.gate import SEVERITIES, catalogue, severity
from scanner.model import ScanResult
from scanner.reports.safe import md_cell
from scanner.reports.table import describe


_cell = md_cell


def render(result: ScanResult) -> str:
    rules = catalogue(result)
    creds = sorted(result.credentials,
                   key=lambda c: (-SEVERITIES.index(severity(c, rules)), c.rule_id, c.fingerprint))
    n = len(creds)
    out = [f"### sprawlscan: {n} credential{'s' if n != 1 else ''} found" if n
           else "### sprawlscan: no credentials found", ""]
    if result.incomplete:
        out += ["> **Incomplete scan**: " + _cell("; ".join(result.stats.errors)), ""]
    if creds:
        out += ["| severity | rule | secret | copies | first location |",
                "|---|---|---|---|---|"]
        for c in creds:
            first = describe(c.locations[0]) if c.locations else "-"
            out.append(f"| {severity(c, rules)} | `{_cell(c.rule_id)}` | `{_cell(c.redacted)}` | "
                       f"{len(c.locations)} | {_cell(first)} |")
        out += ["", "<details><summary>All locations</summary>", ""]
        for c in creds:
            out.append(f"- `{_cell(c.rule_id)}` `{_cell(c.redacted)}` ({'keyed' if c.keyed else 'sha256'} `{c.fingerprint[:16]}`)")
            out += [f"  - {_cell(describe(loc))}" for loc in c.locations]
        out += ["", "</details>", ""]
        out += [("Revoke or rotate each credential at its provider; deleting the line does not "
                 "remove it from git history."), ""]
    s = result.stats
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(s.skipped.items())) or "none"
    config = f"; config: {_cell(s.config)}" if s.config else ""
    out.append(f"<sub>scanned {s.chunks} chunk(s), {s.blobs} git blob(s); skipped: {skipped}{config}</sub>")
    out += [f"<sub>warning: {_cell(note)}</sub>" for note in s.warnings]
    return "\n".join(out) + "\n"
