"""Retirement check (`sprawlscan retired AGENT --verify`): run after the agent was deleted. Takes
the survival report for the agent, computed with fresh provider evidence, and gives what
contradicts a clean retirement: credentials expected to die that the provider still accepts,
survivors the provider accepts with no reason to outlive the agent (`orphaned`, `human`: no other
consumer, no platform identity, not expiring), and credentials nobody could verify."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.graph.survival import SurvivalReport, Verdict
from scanner.model import fingerprint_json
from scanner.verify.base import Verification

REASONS_TO_OUTLIVE = frozenset({"shared", "platform", "expiring"})
"""Survival reasons that explain why a credential still works after its agent is gone."""


@dataclass(frozen=True, slots=True)
class Finding:
    verdict: Verdict
    verification: Verification | None
    problem: str


@dataclass(frozen=True, slots=True)
class RetirementCheck:
    agent: str
    checked: int
    """Credentials the agent reached."""
    still_valid: tuple[Finding, ...]
    """Expected to die with the agent, yet the provider accepts them."""
    unexplained: tuple[Finding, ...]
    """Survivors the provider accepts with no reason to outlive the agent."""
    unverified: tuple[Finding, ...]
    """Nobody could tell whether they still work (error, unknown, no verifier)."""

    @property
    def failed(self) -> bool:
        return bool(self.still_valid or self.unexplained)

    def to_json(self) -> dict[str, object]:
        def rows(fs: tuple[Finding, ...]) -> list[dict[str, object]]:
            return [{**fingerprint_json(f.verdict.credential.fingerprint, f.verdict.credential.keyed), "rule_id": f.verdict.credential.rule_id,
                     "redacted": f.verdict.credential.redacted, "problem": f.problem,
                     "verification": f.verification.to_json() if f.verification else None} for f in fs]
        return {"agent": self.agent, "checked": self.checked, "passed": not self.failed and not self.unverified,
                "still_valid": rows(self.still_valid), "unexplained": rows(self.unexplained),
                "unverified": rows(self.unverified)}


def check_retirement(report: SurvivalReport, verifications: dict[str, Verification]) -> RetirementCheck:
    still, unexplained, unverified = [], [], []
    for v in report.verdicts:
        ver = verifications.get(v.credential.fingerprint)
        status = ver.status if ver else "unknown"
        if status == "invalid":
            continue
        if not v.survives:
            if status == "valid":
                still.append(Finding(v, ver, f"expected to die ({v.dies_because}) but the provider still "
                                              f"accepts it"))
            else:
                unverified.append(Finding(v, ver, f"expected to die; not confirmed ({status})"))
        elif v.reason not in REASONS_TO_OUTLIVE:
            if status == "valid":
                unexplained.append(Finding(v, ver, f"still valid and {v.reason}: nothing explains why it "
                                                   f"outlives the agent; {v.action}"))
            else:
                unverified.append(Finding(v, ver, f"{v.reason}; whether it still works is not known ({status})"))
    return RetirementCheck(report.agent.name, len(report.verdicts), tuple(still), tuple(unexplained),
                           tuple(unverified))


def render_text(check: RetirementCheck) -> str:
    lines = [f"retirement of {check.agent}: {check.checked} credential(s) checked"]
    for title, fs in (("STILL VALID (expected to die)", check.still_valid),
                      ("VALID WITHOUT A REASON TO OUTLIVE", check.unexplained),
                      ("NOT CONFIRMED", check.unverified)):
        for f in fs:
            c = f.verdict.credential
            lines.append(f"{title}: {c.rule_id} {c.redacted} {c.fingerprint[:16]}: {f.problem}")
    verdict = "FAILED" if check.failed else "INCOMPLETE" if check.unverified else "confirmed"
    lines.append(f"retirement {verdict}")
    return "\n".join(lines) + "\n"
