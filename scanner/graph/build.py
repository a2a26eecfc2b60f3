"""Graph stage: the identity graph. Takes a `ScanResult`, the inventory (or none: agents are then
inferred) and the scan's records (read by `collect`), and gives a `SprawlGraph`: a networkx
MultiDiGraph whose nodes are `credential:<fingerprint>`, `location:...`, `reference:...`, `agent:...`,
`identity:...`, `platform:...`, `workflow:...`, `owner:...` (attribute `kind`) and whose edges
(attribute `kind`) are copy_of, resolves_to (with `how`), references, calls (with the call's
`inherit` flag and secret `mapping`), runs, runs_as, uses, issued_to, authenticates_as,
child_of, owns, mints; plus the `Resolver` that survival uses to evaluate workflows per call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

import networkx as nx

from scanner.graph.collect import Collected, collect
from scanner.graph.evidence import add_provider_identities
from scanner.graph.inventory import (
    Agent,
    CredentialRef,
    Inventory,
    VaultRef,
    WorkflowRef,
)
from scanner.graph.resolve import Reach, Resolver, Scope, evaluate, ref_node
from scanner.model import Credential, Location, ScanResult
from scanner.verify.base import Verification

AGENT_VAULT_PATH = re.compile(r"(?:^|/)agents/([A-Za-z0-9_.-]+)[/#]")


@dataclass(slots=True)
class SprawlGraph:
    graph: nx.MultiDiGraph
    credentials: dict[str, Credential]
    inventory: Inventory
    resolver: Resolver
    collected: Collected
    errors: list[str] = field(default_factory=list)
    verifications: Mapping[str, Verification] = field(default_factory=dict)
    """`--verify`: fingerprint → what its provider said (evidence for survival)."""


def location_node(loc: Location) -> str:
    where = f"{loc.container}:{loc.path}" if loc.container else loc.path
    at = f"@{loc.commit[:12]}" if loc.commit else ""
    return f"location:{loc.source}:{where}{at}"


def scope_for(wf: WorkflowRef, agent: str = "") -> Scope:
    platform = wf.kind if wf.kind in ("github", "gitlab") else "local"
    return Scope(platform, wf.repo, agent)


def agent_workflow_nodes(agent: Agent, col: Collected) -> list[str]:
    """The workflow nodes an agent runs; a file named without `#item` whose entries are nodes of
    their own (MCP servers, compose services, CrewAI / n8n entries) means all of them: the file
    node alone would read as a file that references nothing."""
    out = []
    for w in agent.workflows:
        if not w.item and (w.kind == "mcp" or w.node not in col.files):
            prefix = w.node + "#"
            items = [n for n in col.files if n.startswith(prefix)]
            out += items or [w.node]
        else:
            out.append(w.node)
    return out


def infer_inventory(result: ScanResult, col: Collected) -> Inventory:
    """Agents guessed from vault paths `agents/<name>/` only. An MCP server is a tool some agent
    uses, and a file name says nothing about who runs it: workflows, configs and code stay
    consumer nodes (every one that reads a credential counts as a live consumer), and the report
    says the agent list is inferred and may be incomplete."""
    creds: dict[str, list[CredentialRef]] = {}
    for c in result.credentials:
        for loc in c.locations:
            m = AGENT_VAULT_PATH.search(loc.path) if loc.source == "vault" and loc.state == "live" else None
            if m:
                path, _, key = loc.path.partition("#")
                creds.setdefault(m.group(1), []).append(
                    CredentialRef(id=key or path, provider=c.provider, vault=VaultRef(loc.container, path, key)))
    agents = tuple(Agent(n, credentials=tuple({c.id: c for c in creds[n]}.values()), inferred=True,
                         source="inferred") for n in sorted(creds))
    return Inventory(agents, "inferred")


def _add(g: nx.MultiDiGraph, node: str, kind: str, **attrs: object) -> None:
    if node not in g:
        g.add_node(node, kind=kind, **{k: v for k, v in attrs.items() if v is not None})


def build_graph(result: ScanResult, inventory: Inventory | None,
                collected: Collected | None = None) -> SprawlGraph:
    """The graph of one scan, from its records only (`result.facts`: workflow and config files,
    forge secret names) and its credentials; `collected`: records already read."""
    col = collected if collected is not None else collect(result.facts)
    inv = inventory if inventory is not None else infer_inventory(result, col)
    res = Resolver(result.credentials, col, inv)
    g = nx.MultiDiGraph()
    creds = {c.fingerprint: c for c in result.credentials}
    for c in result.credentials:
        _add(g, f"credential:{c.fingerprint}", "credential", rule_id=c.rule_id, provider=c.provider,
             redacted=c.redacted, lifetime=c.lifetime_hint,
             **({"fingerprint": "keyed"} if c.keyed else {}))  # an HMAC, not the SHA-256
        for loc in c.locations:
            n = location_node(loc)
            _add(g, n, "location", source=loc.source, container=loc.container, path=loc.path,
                 state=loc.state, commit=loc.commit)
            g.add_edge(n, f"credential:{c.fingerprint}", kind="copy_of", line=loc.line or 0)
    for wf in col.files.values():
        w = wf.ref.node
        _add(g, w, "workflow", platform=wf.ref.kind, repo=wf.ref.repo, path=wf.ref.path, root=wf.root)
        for r in wf.refs:
            rn = ref_node(w, r.name)
            _add(g, rn, "reference", name=r.name, ref_kind=r.kind, environment=r.environment)
            g.add_edge(w, rn, kind="references", job=r.job)
        for call in wf.calls:
            _add(g, call.target.node, "workflow", platform=call.target.kind, repo=call.target.repo,
                 path=call.target.path, root=False)
            g.add_edge(w, call.target.node, kind="calls", how=call.how, inherit=call.inherit,
                       mapping=";".join(f"{k}={v or ''}" for k, v in call.mapping), job=call.job)
    for a in inv.agents:
        an = a.node
        _add(g, an, "agent", inferred=a.inferred, lifecycle=a.lifecycle, purpose=a.purpose)
        for role, owner in (("business", a.owner.business), ("technical", a.owner.technical)):
            if owner:
                _add(g, f"owner:{owner}", "owner")
                g.add_edge(f"owner:{owner}", an, kind="owns", role=role)
        if a.platform:
            _add(g, f"platform:{a.platform.ref}", "platform", identity_kind=a.platform.kind)
        for i in a.identities:
            _add(g, f"identity:{i.ref}", "identity", identity_kind=i.kind, exclusive=i.exclusive)
            g.add_edge(an, f"identity:{i.ref}", kind="runs_as")
            if a.platform:
                g.add_edge(f"identity:{i.ref}", f"platform:{a.platform.ref}", kind="child_of")
        if a.platform and not a.identities:
            g.add_edge(an, f"platform:{a.platform.ref}", kind="runs_as")
        for wn in agent_workflow_nodes(a, col):
            _add(g, wn, "workflow", root=False)
            g.add_edge(an, wn, kind="runs")
        for cr in a.credentials:
            rn = f"reference:inventory:{a.name}#{cr.id}"
            _add(g, rn, "reference", name=cr.id, ref_kind="inventory")
            g.add_edge(an, rn, kind="uses")
            fps, how = res.declared[(a.name, cr.id)]
            for fp in sorted(fps):
                g.add_edge(rn, f"credential:{fp}", kind="resolves_to", how=how)
                _principal_edges(g, a, cr, fp)
    for w, wf in col.files.items():  # own-scope evaluation of CI roots records how names resolve
        if wf.root:
            _record(g, evaluate(res, w, scope_for(wf.ref)))
    for a in inv.agents:
        for wn in agent_workflow_nodes(a, col):
            called = col.files.get(wn)
            if called is not None:
                _record(g, evaluate(res, wn, scope_for(called.ref, a.name), (a.node,)))
    verified = getattr(result, "verifications", None) or {}
    add_provider_identities(g, verified)
    return SprawlGraph(g, creds, inv, res, col, list(col.errors), verified)


def principal_node(agent: Agent, cr: CredentialRef) -> str | None:
    """Node of the principal a declared credential is issued to; None when unknown."""
    if cr.issued_to == "human":
        return f"owner:{cr.principal}" if cr.principal else None
    if cr.issued_to == "platform":
        ref = cr.principal or (agent.platform.ref if agent.platform else None)
        return f"platform:{ref}" if ref else None
    if cr.issued_to == "identity":
        if cr.principal:
            return f"identity:{cr.principal}"
        return f"identity:{agent.identities[0].ref}" if len(agent.identities) == 1 else None
    return None


def minter_node(agent: Agent, minted_by: str) -> str:
    if any(c.id == minted_by for c in agent.credentials):
        return f"reference:inventory:{agent.name}#{minted_by}"
    if agent.platform and agent.platform.ref == minted_by:
        return f"platform:{minted_by}"
    return f"identity:{minted_by}"


def _principal_edges(g: nx.MultiDiGraph, agent: Agent, cr: CredentialRef, fp: str) -> None:
    p = principal_node(agent, cr)
    cn = f"credential:{fp}"
    if p:
        _add(g, p, p.split(":", 1)[0])
        g.add_edge(cn, p, kind="issued_to")
        if p.startswith("identity:"):
            g.add_edge(cn, p, kind="authenticates_as")
    if cr.minted_by:
        m = minter_node(agent, cr.minted_by)
        _add(g, m, m.split(":", 1)[0])
        g.add_edge(m, cn, kind="mints")


def _record(g: nx.MultiDiGraph, reaches: list[Reach]) -> None:
    for r in reaches:
        if r.fingerprint is None:
            continue
        start = next((i for i, n in enumerate(r.path) if n.startswith("reference:")), None)
        if start is None:  # a value written in the file itself: the file uses it directly
            if len(r.path) >= 2 and not g.has_edge(r.path[-2], r.path[-1]):
                g.add_edge(r.path[-2], r.path[-1], kind="uses", how=r.how)
            continue
        hops = r.path[start:]
        for a, b in pairwise(hops):
            if not g.has_edge(a, b):
                _add(g, a, "reference")
                g.add_edge(a, b, kind="resolves_to", how=r.how if b.startswith("credential:") else "call mapping")
