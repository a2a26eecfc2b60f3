"""JSON report: the machine-readable shape promised in the README (fields may be added, never
renamed). Carries fingerprints and redacted previews only."""

from __future__ import annotations

import json

from scanner import __version__
from scanner.gate import catalogue, severity
from scanner.model import Credential, ScanResult


def findings(result: ScanResult) -> list[dict[str, object]]:
    """Each credential as JSON, with its severity from the rule catalogue."""
    rules = catalogue(result) if result.credentials else {}
    return [{**finding(c, result), "severity": severity(c, rules)} for c in result.credentials]


def as_dict(result: ScanResult) -> dict[str, object]:
    return {
        "tool": "sprawlscan",
        "version": __version__,
        "incomplete": result.incomplete,
        "incomplete_reasons": list(result.stats.errors),
        "summary": result.stats.to_json(),
        "findings": findings(result),
    }


def finding(cred: Credential, result: ScanResult) -> dict[str, object]:
    """One credential; with `--verify`, what its provider said (`verification`)."""
    out = cred.to_json()
    if result.verifications is not None:
        v = result.verifications.get(cred.fingerprint)
        out["verification"] = v.to_json() if v else None
    return out


def render(result: ScanResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"


def render_lines(result: ScanResult) -> str:
    """JSON Lines for log pipelines: one `credential` object a line (the JSON report's finding),
    then one `summary` line (incomplete, reasons, counters)."""
    lines = [json.dumps({"type": "credential", **f}, separators=(",", ":")) for f in findings(result)]
    lines.append(json.dumps({"type": "summary", "tool": "sprawlscan", "version": __version__,
                             "incomplete": result.incomplete, "incomplete_reasons": list(result.stats.errors),
                             "credentials": len(result.credentials), **result.stats.to_json()},
                            separators=(",", ":")))
    return "\n".join(lines) + "\n"
