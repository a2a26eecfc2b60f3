"""Survival invariants on generated organisations (Hypothesis): agents with declarations, vault
copies, identities and expiries; CI workflows and MCP servers (run by an agent or on their own)
that read secret names. Each organisation is written to real files (workflows, MCP configs, an
`agents.yaml`) and read back through `build_graph`. Properties: adding a consumer never turns
`survives` from true to false; adding an unresolvable reference never turns a blocked gate into a
clear one; renaming a secret consistently everywhere never changes a verdict."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import load_inventory
from scanner.graph.survival import survivors
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact

AT = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
NAMES = ("OPENAI_API_KEY", "SLACK_TOKEN", "DEPLOY_KEY", "DB_PASSWORD")
RULES = (("openai.project", "openai", "static"), ("slack.bot", "slack", "static"),
         ("github.installation", "github", "short-lived"), ("declared.secret", "unknown", "static"))


@dataclass(frozen=True)
class Decl:
    name: str
    """Vault key name (also the env name declared)."""
    value: int
    lifetime: str | None
    issued: str | None
    expires_h: int | None


@dataclass(frozen=True)
class Flow:
    kind: str
    """`github` (a CI workflow) or `mcp` (an MCP server)."""
    names: tuple[str, ...]
    runner: int | None
    """Index of the agent that runs it; None: runs on its own (CI trigger) / another service."""


@dataclass(frozen=True)
class Org:
    agents: tuple[tuple[Decl, ...], ...]
    exclusive: tuple[bool, ...]
    flows: tuple[Flow, ...]
    copies: tuple[tuple[str, int], ...] = field(default=())
    """Extra vault copies (key name, value) under `shared/`, not declared by anyone."""


names = st.sampled_from(NAMES)
decls = st.builds(Decl, names, st.integers(0, 3), st.sampled_from([None, "static", "short-lived"]),
                  st.sampled_from([None, "identity", "platform", "human"]),
                  st.one_of(st.none(), st.integers(-48, 96)))
flows = st.builds(Flow, st.sampled_from(["github", "mcp"]), st.lists(names, min_size=1, max_size=2).map(tuple),
                  st.one_of(st.none(), st.integers(0, 2)))
orgs = st.builds(Org, st.lists(st.lists(decls, min_size=1, max_size=2).map(tuple), min_size=1, max_size=3).map(tuple),
                 st.lists(st.booleans(), min_size=3, max_size=3).map(tuple),
                 st.lists(flows, min_size=1, max_size=3).map(tuple),
                 st.lists(st.tuples(names, st.integers(0, 3)), max_size=2).map(tuple))


def secret(i: int) -> str:
    return f"synthetic-value-{i}-" + "k" * 24


def rename(org: Org, old: str, new: str) -> Org:
    def r(n: str) -> str:
        return new if n == old else n
    return Org(tuple(tuple(replace(d, name=r(d.name)) for d in a) for a in org.agents), org.exclusive,
               tuple(replace(f, names=tuple(r(n) for n in f.names)) for f in org.flows),
               tuple((r(n), v) for n, v in org.copies))


def materialise(org: Org, root: Path):
    """Write the organisation's files and return its graph."""
    base = root / "org"
    (base / ".github" / "workflows").mkdir(parents=True)
    container = str(base)
    runs: dict[int, list[str]] = {}
    servers: dict[str, dict[str, object]] = {}
    for j, f in enumerate(org.flows):
        runner = f.runner if f.runner is not None and f.runner < len(org.agents) else None
        if f.kind == "github":
            steps = " ".join(f"${{{{ secrets.{n} }}}}" for n in f.names)
            (base / ".github" / "workflows" / f"w{j}.yml").write_text(
                f"on: push\njobs:\n  j:\n    runs-on: x\n    steps: [{{run: 'use {steps}'}}]\n")
            ref = f'{{github: "{container}:.github/workflows/w{j}.yml"}}'
        else:
            servers[f"s{j}"] = {"command": "srv", "env": {f"V{i}": f"${{env:{n}}}" for i, n in enumerate(f.names)}}
            ref = f'{{mcp: "{container}:.mcp.json#s{j}"}}'
        if runner is not None:
            runs.setdefault(runner, []).append(ref)
    if servers:
        (base / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    locs: dict[int, list[Location]] = {}
    lines = ["kind: AgentInventory", "agents:"]
    for i, ds in enumerate(org.agents):
        lines += [f"  - name: a{i}", f"    platform: {{ref: plat-{i}}}",
                  f"    identities: [{{ref: id-{i}, exclusive: {str(org.exclusive[i]).lower()}}}]"]
        if runs.get(i):
            lines.append(f"    workflows: [{', '.join(runs[i])}]")
        if ds:
            lines.append("    credentials:")
        for k, d in enumerate(ds):
            locs.setdefault(d.value, []).append(Location("vault", "secret", f"agents/a{i}#{d.name}"))
            extra = "".join([f", lifetime: {d.lifetime}" if d.lifetime else "",
                             f", issuedTo: {d.issued}" if d.issued else "",
                             ", principal: 'user:bob'" if d.issued == "human" else "",
                             f", expires: '{(AT + dt.timedelta(hours=d.expires_h)).isoformat()}'"
                             if d.expires_h is not None else ""])
            lines.append(f"      - {{id: c{k}, provider: {RULES[d.value][1]}, vault: 'secret/agents/a{i}#{d.name}',"
                         f" env: [{d.name}]{extra}}}")
    for n, v in org.copies:
        locs.setdefault(v, []).append(Location("vault", "secret", f"shared/store#{n}"))
    creds = tuple(Credential(fingerprint(secret(v)), RULES[v][0], RULES[v][1], redact(secret(v)),
                             tuple(sorted(set(ls))), RULES[v][2]) for v, ls in sorted(locs.items()))
    inv = root / "agents.yaml"
    inv.write_text("\n".join(lines) + "\n")
    return build_graph(ScanResult(creds, ScanStats(), records_of([container])), load_inventory(inv))


def outcome(org: Org, agent: str = "a0"):
    with tempfile.TemporaryDirectory() as tmp:
        rep = survivors(materialise(org, Path(tmp)), agent, AT)
    return {v.credential.fingerprint: (v.survives, v.reason) for v in rep.verdicts}, rep.blocked


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(org=orgs, extra=st.one_of(flows.map(lambda f: replace(f, runner=None)), st.lists(decls, min_size=1, max_size=2)))
def test_adding_a_consumer_never_turns_survives_false(org, extra):
    """A new consumer (a CI workflow or MCP server the agent does not run, or a new agent that
    declares keys, maybe under names already used) can only add holders: no credential that
    survived the agent's deletion now dies."""
    # runners beyond the existing agents are on their own: the new agent must not take them over
    org = replace(org, flows=tuple(replace(f, runner=None) if f.runner is not None and f.runner >= len(org.agents)
                                   else f for f in org.flows))
    before, _ = outcome(org)
    if isinstance(extra, Flow):
        bigger = replace(org, flows=(*org.flows, extra))
    else:  # a consumer only: it states no lifetime, principal or expiry (that would be new evidence)
        bigger = replace(org, agents=(*org.agents, tuple(replace(d, issued=None, lifetime=None, expires_h=None)
                                                         for d in extra)),
                         exclusive=(*org.exclusive, False))
    after, _ = outcome(bigger)
    for fp, (survives, _) in before.items():
        if survives:
            assert after[fp][0], (fp, before[fp], after[fp])


@SETTINGS
@given(org=orgs, where=st.integers(0, 3), kind=st.sampled_from(["github", "mcp"]),
       ghost=st.sampled_from(["GHOST_TOKEN", "UNSTORED_API_KEY", "OLD_PASSWORD"]))
def test_adding_an_unresolvable_reference_never_clears_a_blocked_gate(org, where, kind, ghost):
    """A reference to a secret name nothing binds, added to any workflow or config (or as a new
    one the agent runs), never turns exit 1 (blocked) into exit 0 (clear)."""
    _, blocked = outcome(org)
    flows_ = list(org.flows)
    if where < len(flows_):
        flows_[where] = replace(flows_[where], names=(*flows_[where].names, ghost))
    else:
        flows_.append(Flow(kind, (ghost,), 0))
    _, after = outcome(replace(org, flows=tuple(flows_)))
    if blocked:
        assert after
    if where >= len(org.flows):  # the agent itself now reads a name nothing binds: blocked
        assert after


@SETTINGS
@given(org=orgs, old=names, prefix=st.sampled_from(["RENAMED_", "V2_", "PROD_"]))
def test_renaming_a_secret_everywhere_never_changes_a_verdict(org, old, prefix):
    """Renaming one secret name consistently (vault key, declarations, every reference) keeps
    every verdict, reason and the gate."""
    assert outcome(org) == outcome(rename(org, old, prefix + old))
