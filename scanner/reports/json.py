"""JSON report: the machine-readable shape promised in the README (fields may be added, never
renamed). Carries fingerprints and redacted previews only."""

from __future__ import annotations

import json

from scanner import __version__
from scanner.model import ScanResult


def as_dict(result: ScanResult) -> dict[str, object]:
    return {
        "tool": "sprawlscan",
        "version": __version__,
        "incomplete": result.incomplete,
        "incomplete_reasons": list(result.stats.errors),
        "summary": result.stats.to_json(),
        "findings": [c.to_json() for c in result.credentials],
    }


def render(result: ScanResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"
