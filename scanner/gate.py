"""The CI gate: what a scan's result means for a pipeline. Baselines (fingerprints known today,
so that only new credentials are reported), severities from the rule catalogue, and the exit code
contract of STYLE.md: 0 clean, 1 findings at or above `--fail-on`, 3 incomplete (which wins: a
gate never passes on a partial crawl). Takes a `ScanResult`, gives a `ScanResult` or an int."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from detectors.loader import load_rules
from detectors.rule import Rule
from scanner.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE, ConfigError
from scanner.model import Credential, ScanResult, ScanStats

SEVERITIES = ("low", "medium", "high", "critical")


def write_baseline(result: ScanResult, path: Path) -> int:
    """Write every credential's fingerprint (with its rule and redacted preview as a comment)."""
    lines = ["# sprawlscan baseline: credentials known when it was written; `--baseline` hides them"]
    lines += [f"{c.fingerprint}  # {c.rule_id} {c.redacted}" for c in result.credentials]
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline ({exc.strerror})") from None
    return len(result.credentials)


def apply_baseline(result: ScanResult, known: frozenset[str]) -> ScanResult:
    """Only what is not in the baseline; the hidden ones are counted as `baseline` skips. A
    baseline entry may be a unique fingerprint prefix; one that matches two credentials hides
    neither."""
    from scanner.findings import Allowlist

    allow = Allowlist(known)
    hits: dict[str, list[str]] = {}
    for c in result.credentials:
        entry = allow.entry_for(c.fingerprint)
        if entry is not None:
            hits.setdefault(entry, []).append(c.fingerprint)
    hidden = {fps[0] for fps in hits.values() if len(fps) == 1}
    keep = tuple(c for c in result.credentials if c.fingerprint not in hidden)
    stats = ScanStats()
    stats.merge(result.stats)
    if len(keep) != len(result.credentials):
        stats.skip("baseline", len(result.credentials) - len(keep))
    return replace(result, credentials=keep, stats=stats)


def catalogue(result: ScanResult) -> dict[str, Rule]:
    """Rule id → rule: the rules the scan ran with, else the built-in ones."""
    rules = list(result.rules) or load_rules()
    return {r.id: r for r in rules}


def severity(cred: Credential, rules: dict[str, Rule]) -> str:
    rule = rules.get(cred.rule_id)
    return rule.severity if rule else "high"


def exit_code(result: ScanResult, fail_on: str = "low") -> int:
    if result.incomplete:
        return EXIT_INCOMPLETE
    floor = SEVERITIES.index(fail_on)
    rules = catalogue(result) if result.credentials else {}
    failing = [c for c in result.credentials if SEVERITIES.index(severity(c, rules)) >= floor]
    return EXIT_FINDINGS if failing else EXIT_CLEAN
