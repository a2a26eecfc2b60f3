"""Audit stage: lifecycle findings over the whole graph. Takes a `SprawlGraph` and a time, gives
`AuditFinding`s (severity, subject, message, OWASP NHI Top 10 2025 and NIST CSF 2.0 tags):
agents without owner / technical owner / purpose / expiry; agents past `expires` or retired that
still reach credentials; credentials reached by more than one agent; credentials nothing claims;
static long-lived kinds where a short-lived kind exists; person-issued credentials used by an
agent; copies outside a secret store; references no value binds. Each finding names the agents
it concerns and the credential (fingerprint), so a report per agent is possible."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from scanner.reports.safe import clean, md_cell
from scanner.reports.safe import console as safe_console
from rich.table import Table

from scanner.graph.build import SprawlGraph, agent_workflow_nodes, scope_for
from scanner.graph.resolve import evaluate
from scanner.graph.survival import HUMAN_RULES, NON_VAULT_STORES, _Context, _expiry, _owners

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
    agents: tuple[str, ...] = ()
    """The agents the finding concerns (by name)."""
    credential: str = ""
    """The credential's fingerprint, when it is about one."""

    def to_json(self) -> dict[str, object]:
        return {"check": self.check, "severity": self.severity, "subject": self.subject,
                "message": self.message, "tags": list(self.tags), "agents": list(self.agents),
                "credential": self.credential or None}


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
                                            ("NHI1:2025", "PR.AA-01"), (agent.name,)))
        past = agent.expires is not None and agent.expires < at.date()
        fps = {fp for fp in fps if fp in ctx.credentials}
        valid = {fp for fp in fps if (e := _expiry(ctx.credentials[fp], ctx.declarations.get(fp, []))) is None or e > at}
        if (past or agent.lifecycle == "retired") and valid:
            why = f"expired {agent.expires}" if past else "retired"
            out.append(AuditFinding("retired-agent-reaches-credentials", "high", node,
                                    f"agent is {why} but still reaches {len(valid)} valid credential(s)",
                                    ("NHI1:2025", "PR.AA-01"), (agent.name,)))
        for r in reaches:
            if r.fingerprint is None:
                out.append(AuditFinding("unresolved-reference" if r.blocking else "unresolved-config", "low",
                                        r.referenced_by or node, f"{r.name} in {r.scope or '-'}: {r.how}",
                                        ("PR.AA-01",), (agent.name,)))
        for fp in fps:
            for a, cr in ctx.declarations.get(fp, []):
                if a.name == agent.name and cr.issued_to == "human":
                    out.append(AuditFinding("human-credential-used-by-agent", "high", f"credential:{fp}",
                                            f"{agent.name} uses {cr.id}, issued to a person "
                                            f"({cr.principal or 'unnamed'})", ("NHI10:2025", "PR.AA-01"),
                                            (agent.name,), fp))
            cred = ctx.credentials[fp]
            if not ctx.declarations.get(fp) and cred.rule_id in HUMAN_RULES:
                out.append(AuditFinding("human-credential-used-by-agent", "high", f"credential:{fp}",
                                        f"{agent.name} uses a {cred.rule_id} token, normally issued to a person",
                                        ("NHI10:2025", "PR.AA-01"), (agent.name,), fp))
    claimed = set(reached_by)
    for node, wf in sorted(sg.collected.files.items()):  # CI that runs on its own triggers
        if wf.root:
            for r in evaluate(sg.resolver, node, scope_for(wf.ref)):
                if r.fingerprint:
                    claimed.add(r.fingerprint)
                if r.fingerprint is None:
                    runners = tuple(sorted(a.name for a in sg.inventory.agents
                                           if node in agent_workflow_nodes(a, sg.collected)))
                    out.append(AuditFinding("unresolved-reference" if r.blocking else "unresolved-config", "low",
                                            r.referenced_by or node, f"{r.name} in {r.scope or '-'}: {r.how}",
                                            ("PR.AA-01",), runners))
    for fp, agents in sorted(reached_by.items()):
        if len(agents) > 1:
            out.append(AuditFinding("shared-credential", "medium", f"credential:{fp}",
                                    f"reached by {len(agents)} agents: {', '.join(sorted(agents))}",
                                    ("NHI9:2025", "PR.AA-05"), tuple(sorted(agents)), fp))
    for fp, cred in sorted(sg.credentials.items()):
        subject = f"credential:{fp}"
        who = tuple(sorted(reached_by.get(fp, ())))
        if fp not in claimed:
            owners = _owners(cred)
            owned = f" (owner per the vault: {', '.join(owners)})" if owners else ""
            out.append(AuditFinding("orphaned-credential", "medium", subject,
                                    f"{cred.rule_id} {cred.redacted}: no agent, identity or workflow claims it{owned}",
                                    ("NHI1:2025", "PR.AA-01"), (), fp))
        if cred.rule_id in SHORT_LIVED_ALTERNATIVE:
            out.append(AuditFinding("long-lived-credential", "medium", subject,
                                    f"static {cred.rule_id}; prefer {SHORT_LIVED_ALTERNATIVE[cred.rule_id]}",
                                    ("NHI7:2025", "PR.AA-01"), who, fp))
        outside = sorted({loc.source for loc in cred.locations if loc.source not in NON_VAULT_STORES})
        if outside:
            out.append(AuditFinding("exposed-outside-vault", "high", subject,
                                    f"{cred.rule_id} {cred.redacted}: copies in {', '.join(outside)}",
                                    ("NHI2:2025", "PR.AA-01"), who, fp))
    uniq = {(f.check, f.subject, f.message): f for f in out}
    return sorted(uniq.values(), key=lambda f: (-SEVERITIES.index(f.severity), f.check, f.subject))


def _table(findings: list[AuditFinding]) -> str:
    buf = io.StringIO()
    console = safe_console(buf, 200)
    table = Table(title=f"{len(findings)} lifecycle finding(s)")
    for col in ("severity", "check", "subject", "agents", "message", "tags"):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(*map(clean, (f.severity, f.check, f.subject, ", ".join(f.agents) or "-",
                                   f.message, ", ".join(f.tags))))
    console.print(table)
    return buf.getvalue()


def _markdown(findings: list[AuditFinding]) -> str:
    lines = ["| severity | check | subject | agents | message | tags |", "|---|---|---|---|---|---|"]
    lines += [f"| {f.severity} | {f.check} | `{md_cell(f.subject)}` | {md_cell(', '.join(f.agents) or '-')} | "
              f"{md_cell(f.message)} | "
              f"{', '.join(f.tags)} |" for f in findings]
    return "\n".join(lines) + "\n"


AUDIT_FORMATS: dict[str, Callable[[list[AuditFinding]], str]] = {
    "json": lambda fs: json.dumps({"findings": [f.to_json() for f in fs]}, indent=2) + "\n",
    "table": _table,
    "markdown": _markdown,
}
