"""Reports for the graph commands: a `SurvivalReport` as JSON / table / markdown, audit findings,
and the graph itself (GraphML, node-link JSON, DOT written here so pygraphviz is not needed).
Only fingerprints and redacted previews ever appear."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import networkx as nx
from scanner.reports.safe import clean, md_cell
from scanner.reports.safe import console as safe_console
from rich.table import Table

from scanner.graph.resolve import Reach
from scanner.model import fingerprint_json
from scanner.graph.survival import SurvivalReport


def survival_dict(rep: SurvivalReport) -> dict[str, object]:
    owners = {"business": rep.agent.owner.business, "technical": rep.agent.owner.technical}
    creds = []
    for v in rep.verdicts:
        c = v.credential
        creds.append({
            **fingerprint_json(c.fingerprint, c.keyed), "rule_id": c.rule_id, "provider": c.provider,
            "redacted": c.redacted, "survives": v.survives, "reason": v.reason,
            "dies_because": v.dies_because, "action": v.action,
            "reached_via": [list(p) for p in v.reached_via], "resolved_by": list(v.how),
            "other_holders": list(v.other_holders), "other_holders_via": [list(p) for p in v.holders_via],
            "exposure": {"live": [loc.to_json() for loc in c.locations if loc.state == "live"],
                         "historical": [loc.to_json() for loc in c.locations if loc.state != "live"]},
            "expires": v.expires.isoformat() if v.expires else None, "lifetime": v.lifetime,
            "conflicts": list(v.conflicts), "owners": owners, "credential_owners": list(v.owners),
            "tags": list(v.tags), **({"verification": v.verification.to_json()} if v.verification else {})})
    doc: dict[str, object] = {
        "agent": rep.agent.name, "at": rep.at.isoformat(), "grace_seconds": int(rep.grace.total_seconds()),
        "blocked": rep.blocked, "inferred": rep.agent.inferred, "dies_with_agent": list(rep.dies),
        "credentials": creds, "unresolved": _unresolved(rep.unresolved),
        "unresolved_config": _unresolved(rep.unresolved_config)}
    if rep.agent.inferred:
        doc["note"] = INFERRED_NOTE
    if rep.incomplete:
        doc["incomplete"] = list(rep.incomplete)
    return doc


INFERRED_NOTE = ("no inventory: the agent list is inferred (from vault paths agents/<name>/) and may be "
                 "incomplete; every workflow, config and code file that reads a credential counts as a consumer")


def _unresolved(items: tuple[Reach, ...]) -> list[dict[str, object]]:
    """One entry per (name, scope), with every referencing node."""
    grouped: dict[tuple[str, str], dict[str, object]] = {}
    for r in items:
        entry = grouped.setdefault((r.name, r.scope), {"name": r.name, "scope": r.scope, "referenced_by": [],
                                                        "why": r.how})
        refs = entry["referenced_by"]
        assert isinstance(refs, list)
        if r.referenced_by not in refs:
            refs.append(r.referenced_by)
    return list(grouped.values())


def _rows(rep: SurvivalReport) -> list[list[str]]:
    rows = []
    for v in rep.verdicts:
        c = v.credential
        live = sum(1 for loc in c.locations if loc.state == "live")
        rows.append([c.rule_id, c.redacted, "yes" if v.survives else "no", v.reason or "-",
                     v.dies_because or v.action, f"{live} live / {len(c.locations) - live} hist",
                     _longest(v.reached_via), ", ".join(v.tags)])
    return rows


def _longest(paths: tuple[tuple[str, ...], ...]) -> str:
    best: tuple[str, ...] = ()
    for p in paths:
        best = p if len(p) > len(best) else best
    return " → ".join(best) or "-"


HEADERS = ["rule", "secret", "survives", "reason", "why / action", "exposure", "evidence", "tags"]


def survival_table(rep: SurvivalReport) -> str:
    buf = io.StringIO()
    console = safe_console(buf, 200)
    table = Table(title=f"What outlives agent {clean(rep.agent.name)} (at {rep.at.date().isoformat()})")
    for h in HEADERS:
        table.add_column(h, overflow="fold")
    for row in _rows(rep):
        table.add_row(*map(clean, row))
    console.print(table)
    for r in rep.unresolved:
        console.print(clean(f"UNRESOLVED {r.name} in {r.scope or '-'} (referenced by "
                            f"{r.referenced_by}): {r.how}"))
    for r in rep.unresolved_config:
        console.print(clean(f"unresolved-config (not blocking) {r.name} in {r.scope or '-'} "
                            f"(referenced by {r.referenced_by})"))
    for v in rep.verdicts:
        for c in v.conflicts:
            console.print(clean(f"CONFLICT {v.credential.redacted}: {c}"))
    if rep.agent.inferred:
        console.print(f"note: {INFERRED_NOTE}")
    console.print(clean(f"dies with the agent: {', '.join(rep.dies)}"))
    for why in rep.incomplete:
        console.print(clean(f"INCOMPLETE scan: {why}"))
    console.print("BLOCKED: decommission would leave the credentials above alive" if rep.blocked_by_evidence
                  else "BLOCKED: the scan is incomplete: what survives is not known" if rep.blocked
                  else "clear: nothing that blocks a decommission survives")
    return buf.getvalue()


def survival_markdown(rep: SurvivalReport) -> str:
    out = [f"# What outlives agent `{md_cell(rep.agent.name)}`", "", f"At {rep.at.isoformat()}; "
           f"{'**blocked**' if rep.blocked else 'clear'}"
           f"{' (the scan is incomplete: ' + md_cell('; '.join(rep.incomplete)) + ')' if rep.incomplete else ''}.", "",
           "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(md_cell(cell) for cell in row) + " |" for row in _rows(rep)]
    if rep.unresolved:
        out += ["", "Unresolved references:", ""]
        out += [f"- `{md_cell(r.name)}` in {md_cell(r.scope or '-')} (referenced by "
                f"`{md_cell(r.referenced_by)}`)" for r in rep.unresolved]
    if rep.unresolved_config:
        out += ["", "Unresolved configuration names (not blocking):", ""]
        out += [f"- `{md_cell(r.name)}` in {md_cell(r.scope or '-')} (referenced by "
                f"`{md_cell(r.referenced_by)}`)" for r in rep.unresolved_config]
    conflicts = [(v, c) for v in rep.verdicts for c in v.conflicts]
    if conflicts:
        out += ["", "Conflicting evidence (blocks):", ""]
        out += [f"- `{md_cell(v.credential.redacted)}`: {md_cell(c)}" for v, c in conflicts]
    if rep.agent.inferred:
        out += ["", f"Note: {INFERRED_NOTE}."]
    return "\n".join(out) + "\n"


def survival_html(rep: SurvivalReport) -> str:
    from scanner.reports.html import survivors_page

    return survivors_page(survival_dict(rep))


SURVIVAL_FORMATS: dict[str, Callable[[SurvivalReport], str]] = {
    "html": survival_html,
    "json": lambda rep: json.dumps(survival_dict(rep), indent=2) + "\n",
    "table": survival_table,
    "markdown": survival_markdown,
}


def _plain(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy whose attributes are all strings, numbers or booleans (what GraphML accepts)."""
    h = nx.MultiDiGraph()
    for n, d in g.nodes(data=True):
        h.add_node(n, **{k: v for k, v in d.items() if isinstance(v, (str, int, float, bool))})
    for a, b, d in g.edges(data=True):
        h.add_edge(a, b, **{k: v for k, v in d.items() if isinstance(v, (str, int, float, bool))})
    return h


def _dot_id(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dot(g: nx.MultiDiGraph, path: Path) -> None:
    lines = ["digraph sprawlscan {"]
    for n, d in sorted(g.nodes(data=True)):
        attrs = ", ".join(f"{k}={_dot_id(str(v))}" for k, v in sorted(d.items()))
        lines.append(f"  {_dot_id(n)} [{attrs}];")
    for a, b, d in g.edges(data=True):
        attrs = ", ".join(f"{k}={_dot_id(str(v))}" for k, v in sorted(d.items()))
        lines.append(f"  {_dot_id(a)} -> {_dot_id(b)} [{attrs}];")
    path.write_text("\n".join(lines) + "\n}\n", encoding="utf-8")


def write_json(g: nx.MultiDiGraph, path: Path) -> None:
    try:
        data = nx.node_link_data(_plain(g), edges="links")
    except TypeError:  # networkx < 3.4 names the keyword `link`
        data = nx.node_link_data(_plain(g), link="links")
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def write_html(g: nx.MultiDiGraph, path: Path) -> None:
    from scanner.reports.html import graph_page

    path.write_text(graph_page(g), encoding="utf-8")


GRAPH_FORMATS: dict[str, Callable[[nx.MultiDiGraph, Path], None]] = {
    "html": write_html,
    "graphml": lambda g, p: nx.write_graphml(_plain(g), p),
    "json": write_json,
    "dot": write_dot,
}
