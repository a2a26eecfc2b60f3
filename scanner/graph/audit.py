"""Audit stage: lifecycle findings over the whole graph. Takes a `SprawlGraph` and a time, gives
`AuditFinding`s (severity, subject, message, OWASP NHI Top 10 2025 and NIST CSF 2.0 tags):
agents without owner / technical owner / purpose / expiry; agents past `expires` or retired that
still reach credentials; credentials reached by more than one agent; credentials nothing claims;
static long-lived kinds where a short-lived kind exists; person-issued credentials used by an
agent; copies outside a secret store; references no value binds."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from scanner.reports.safe import clean, md_cell
from scanner.reports.safe import console as safe_console
from rich.table import Table

from scanner.graph.build import SprawlGraph, scope_for
from scanner.graph.resolve import evaluate
from scanner.graph.survival import HUMAN_RULES, NON_VAULT_STORES, _Context, _expiry

SEVERITIES = ("low", "medium", "high", "critical")
SHORT_LIVED_ALTERNATIVE = {
    "aws.access-key": "STS temporary credentials (AssumeRole / IAM Roles Anywhere)",
    "github.pat": "a GitHub App installation token",
    "github.fine-grained-pat": "a GitHub App installation token",
}


@dataclass(frozen=True, slots=True)
class AuditFinding:
    check: str
    severity: str
    subject: str
    message: str
    tags: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "severity": self.severity, "subject": self.subject,
                "message": self.message, "tags": list(self.tags)}


def run_audit(sg: SprawlGraph, at: dt.datetime) -> list[AuditFinding]:
    out: list[AuditFinding] = []
    reached_by: dict[str, set[str]] = {}
    for agent in sg.inventory.agents:
        ctx = _Context(sg, agent, at, dt.timedelta(0))
        reaches = ctx.reach(agent)
        fps = {r.fingerprint for r in reaches if r.fingerprint}
        for fp in fps:
            reached_by.setdefault(fp, set()).add(agent.name)
        node = agent.node
        if not agent.inferred:
            for field, value, sev in (("owner", agent.owner.business, "medium"),
                                      ("technicalOwner", agent.owner.technical, "low"),
                                      ("purpose", agent.purpose, "low"), ("expires", agent.expires, "low")):
                if not value:
                    out.append(AuditFinding(f"missing-{field}", sev, node, f"agent declares no {field}",
                                            ("NHI1:2025", "PR.AA-01")))
        past = agent.expires is not None and agent.expires < at.date()
        valid = {fp for fp in fps if (e := _expiry(sg.credentials[fp], ctx.declarations.get(fp, []))) is None or e > at}
        if (past or agent.lifecycle == "retired") and valid:
            why = f"expired {agent.expires}" if past else "retired"
            out.append(AuditFinding("retired-agent-reaches-credentials", "high", node,
                                    f"agent is {why} but still reaches {len(valid)} valid credential(s)",
                                    ("NHI1:2025", "PR.AA-01")))
        for r in reaches:
            if r.fingerprint is None:
                out.append(AuditFinding("unresolved-reference", "low", r.referenced_by or node,
                                        f"{r.name} in {r.scope or '-'}: {r.how}", ("PR.AA-01",)))
        for fp in fps:
            for a, cr in ctx.declarations.get(fp, []):
                if a.name == agent.name and cr.issued_to == "human":
                    out.append(AuditFinding("human-credential-used-by-agent", "high", f"credential:{fp}",
                                            f"{agent.name} uses {cr.id}, issued to a person "
                                            f"({cr.principal or 'unnamed'})", ("NHI10:2025", "PR.AA-01")))
            cred = sg.credentials[fp]
            if not ctx.declarations.get(fp) and cred.rule_id in HUMAN_RULES:
                out.append(AuditFinding("human-credential-used-by-agent", "high", f"credential:{fp}",
                                        f"{agent.name} uses a {cred.rule_id} token, normally issued to a person",
                                        ("NHI10:2025", "PR.AA-01")))
    claimed = set(reached_by)
    for node, wf in sorted(sg.collected.files.items()):  # CI that runs on its own triggers
        if wf.root:
            for r in evaluate(sg.resolver, node, scope_for(wf.ref)):
                if r.fingerprint:
                    claimed.add(r.fingerprint)
                if r.fingerprint is None:
                    out.append(AuditFinding("unresolved-reference", "low", r.referenced_by or node,
                                            f"{r.name} in {r.scope or '-'}: {r.how}", ("PR.AA-01",)))
    for fp, agents in sorted(reached_by.items()):
        if len(agents) > 1:
            out.append(AuditFinding("shared-credential", "medium", f"credential:{fp}",
                                    f"reached by {len(agents)} agents: {', '.join(sorted(agents))}",
                                    ("NHI9:2025", "PR.AA-05")))
    for fp, cred in sorted(sg.credentials.items()):
        subject = f"credential:{fp}"
        if fp not in claimed:
            out.append(AuditFinding("orphaned-credential", "medium", subject,
                                    f"{cred.rule_id} {cred.redacted}: no agent, identity or workflow claims it",
                                    ("NHI1:2025", "PR.AA-01")))
        if cred.rule_id in SHORT_LIVED_ALTERNATIVE:
            out.append(AuditFinding("long-lived-credential", "medium", subject,
                                    f"static {cred.rule_id}; prefer {SHORT_LIVED_ALTERNATIVE[cred.rule_id]}",
                                    ("NHI7:2025", "PR.AA-01")))
        outside = sorted({loc.source for loc in cred.locations if loc.source not in NON_VAULT_STORES})
        if outside:
            out.append(AuditFinding("exposed-outside-vault", "high", subject,
                                    f"{cred.rule_id} {cred.redacted}: copies in {', '.join(outside)}",
                                    ("NHI2:2025", "PR.AA-01")))
    uniq = {(f.check, f.subject, f.message): f for f in out}
    return sorted(uniq.values(), key=lambda f: (-SEVERITIES.index(f.severity), f.check, f.subject))


def _table(findings: list[AuditFinding]) -> str:
    buf = io.StringIO()
    console = safe_console(buf, 200)
    table = Table(title=f"{len(findings)} lifecycle finding(s)")
    for col in ("severity", "check", "subject", "message", "tags"):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(*map(clean, (f.severity, f.check, f.subject, f.message, ", ".join(f.tags))))
    console.print(table)
    return buf.getvalue()


def _markdown(findings: list[AuditFinding]) -> str:
    lines = ["| severity | check | subject | message | tags |", "|---|---|---|---|---|"]
    lines += [f"| {f.severity} | {f.check} | `{md_cell(f.subject)}` | {md_cell(f.message)} | "
              f"{', '.join(f.tags)} |" for f in findings]
    return "\n".join(lines) + "\n"


AUDIT_FORMATS: dict[str, Callable[[list[AuditFinding]], str]] = {
    "json": lambda fs: json.dumps({"findings": [f.to_json() for f in fs]}, indent=2) + "\n",
    "table": _table,
    "markdown": _markdown,
}
