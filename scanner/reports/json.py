"""JSON report: the machine-readable shape promised in the README (fields may be added, never
renamed). Carries fingerprints and redacted previews only."""

from __future__ import annotations

import json

from scanner import __version__
from scanner.model import Credential, ScanResult


def as_dict(result: ScanResult) -> dict[str, object]:
    return {
        "tool": "sprawlscan",
        "version": __version__,
        "incomplete": result.incomplete,
        "incomplete_reasons": list(result.stats.errors),
        "summary": result.stats.to_json(),
        "findings": [finding(c, result) for c in result.credentials],
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
