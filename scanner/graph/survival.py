"""Survival stage: "what outlives agent X". Takes a `SprawlGraph`, an agent name, a time and a
grace period; gives a `SurvivalReport` following DESIGN.md's five steps: (1) what dies with X,
(2) what X reaches (declarations, identities, and its workflows evaluated per call), (3) which
credentials die (short-lived within grace with no surviving minter, or issued only to principals
that die with X at a provider that invalidates them; missing evidence never kills), (4) why each
survivor survives (`shared` > `platform` > `human` > `orphaned` > `expiring`, each with an
action), (5) exposure split live / historical. Validity and exposure are kept apart: deleting a
copy never kills a credential."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from scanner.errors import ConfigError
from scanner.graph.build import SprawlGraph, agent_workflow_nodes, minter_node, principal_node, scope_for
from scanner.graph.evidence import provider_death, provider_expiry, provider_says_human
from scanner.graph.inventory import Agent, CredentialRef, later
from scanner.graph.lifetime import DEFAULT_MAX_SHORT, PROVIDER_EXPIRY, Lifetime, expiry_conflicts, lifetime
from scanner.graph.lifetime import expiry as _expiry
from scanner.graph.resolve import Reach, evaluate, written_in
from scanner.fingerprints import sha256_hex
from scanner.model import Credential
from scanner.verify.base import Verification

INVALIDATES_WITH_PRINCIPAL: dict[str, str] = {
    "openai": "deleting a project service account deletes its API keys",
    "github": "deleting a GitHub App or machine user revokes its tokens",
    "gitlab": "deleting a service account or bot user revokes its tokens",
    "aws": "deleting an IAM user deletes its access keys",
    "slack": "uninstalling or deleting a Slack app revokes its tokens",
}
"""Providers known to invalidate a credential when the principal it was issued to is deleted."""

HUMAN_RULES = frozenset({"github.pat", "github.fine-grained-pat", "github.oauth", "slack.user",
                         "huggingface.user"})
"""Rules whose tokens are issued to a person when the inventory says nothing."""

BLOCKING = frozenset({"shared", "human", "orphaned"})
NON_VAULT_STORES = ("vault", "github-secret", "github-variable", "gitlab-variable", "ci-variable")
CI_KINDS = ("github", "gitlab")
"""Workflow kinds that run only when triggered or called; every other config or code file
(MCP server, compose service, LangGraph / CrewAI / n8n config, code) is a live consumer unless
the agent being decommissioned runs it."""


@dataclass(frozen=True, slots=True)
class Verdict:
    credential: Credential
    survives: bool
    reason: str | None
    dies_because: str | None
    action: str
    reached_via: tuple[tuple[str, ...], ...]
    how: tuple[str, ...]
    other_holders: tuple[str, ...]
    tags: tuple[str, ...]
    expires: dt.datetime | None
    lifetime: str = "static"
    """`static` (also for unknown lifetimes) or `short-lived`."""
    holders_via: tuple[tuple[str, ...], ...] = ()
    """For each of `other_holders`, the path by which it reaches the credential."""
    conflicts: tuple[str, ...] = ()
    """Contradicting evidence (expiry dates that disagree): reported, and it blocks."""
    owners: tuple[str, ...] = ()
    """Owners of the credential itself (vault `custom_metadata.owner` / `owner`)."""
    verification: Verification | None = None
    """`--verify`: what the provider said (evidence that outranks declarations)."""


@dataclass(frozen=True, slots=True)
class SurvivalReport:
    agent: Agent
    at: dt.datetime
    grace: dt.timedelta
    strict: bool
    dies: tuple[str, ...]
    """Nodes that die with the agent (itself, exclusive identities, workflows only it runs)."""
    verdicts: tuple[Verdict, ...]
    unresolved: tuple[Reach, ...]
    """References nothing binds that name a secret: they block."""
    unresolved_config: tuple[Reach, ...] = ()
    """References nothing binds to names nothing marks as a secret (`unresolved-config`):
    reported, not blocking."""
    incomplete: tuple[str, ...] = ()
    """Why the scan it was evaluated on is incomplete: what survives is then not known."""

    @property
    def blocked(self) -> bool:
        return self.blocked_by_evidence or bool(self.incomplete)

    @property
    def blocked_by_evidence(self) -> bool:
        """Blocked by what the evaluation found (exit 1), not only by an incomplete scan (exit 3)."""
        if self.unresolved or any(v.conflicts for v in self.verdicts):
            return True
        reasons = {v.reason for v in self.verdicts if v.survives}
        return bool(reasons & BLOCKING) or (self.strict and bool(reasons))


def parse_at(value: str | None) -> dt.datetime:
    """`--at`: now when absent; a bare date is 00:00 UTC."""
    if not value:
        return dt.datetime.now(dt.timezone.utc)
    try:
        if len(value) == 10:
            d = dt.date.fromisoformat(value)
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--at: not an ISO date or date-time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def parse_grace(value: str, flag: str = "--grace") -> dt.timedelta:
    """`--grace` (or `--max-short-lived`): `24h`, `90m`, `2d`, `3600s` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    v = value.strip().lower()
    try:
        n = float(v[:-1]) * units[v[-1]] if v and v[-1] in units else float(v)
    except ValueError:
        raise ConfigError(f"{flag}: not a duration: {value!r} (e.g. 24h, 90m, 2d)") from None
    if not 0 <= n <= 1e13:  # also NaN; 1e13 s is 300,000 years
        raise ConfigError(f"{flag}: must be a duration from 0 to 1e13 seconds: {value!r}")
    return dt.timedelta(seconds=n)


def _closure(sg: SprawlGraph, start: set[str]) -> set[str]:
    """`start` and every workflow it calls, transitively."""
    seen, todo = set(start), list(start)
    while todo:
        wf = sg.collected.files.get(todo.pop())
        for c in wf.calls if wf else ():
            if c.target.node not in seen:
                seen.add(c.target.node)
                todo.append(c.target.node)
    return seen


def federated_credential(agent: Agent, cr: CredentialRef) -> Credential:
    """A declared `lifetime: federated` credential (OIDC, workload identity) has no stored value:
    it stands in the verdicts as a record named after its declaration, never as unresolved."""
    fp = sha256_hex(f"federated:{agent.name}#{cr.id}")  # a synthetic id, no secret
    return Credential(fp, "federated", cr.provider or "unknown", f"federated:{agent.name}#{cr.id}", ())


class _Context:
    """Step 1 and the facts every verdict needs, computed once per agent."""

    def __init__(self, sg: SprawlGraph, agent: Agent, at: dt.datetime, grace: dt.timedelta,
                 max_short: dt.timedelta = DEFAULT_MAX_SHORT) -> None:
        self.sg, self.agent, self.at, self.grace, self.max_short = sg, agent, at, grace, max_short
        inv = sg.inventory
        self.others = [a for a in inv.agents if a.name != agent.name and a.lifecycle != "retired"]
        other_ids = {i.ref for a in self.others for i in a.identities} | \
                    {a.platform.ref for a in self.others if a.platform}
        self.dying_ids = {f"identity:{i.ref}" for i in agent.identities if i.exclusive and i.ref not in other_ids}
        self.not_exclusive = {f"identity:{i.ref}": sorted(a.name for a in self.others if i.ref in
                                                          {j.ref for j in a.identities} | {a.platform.ref if a.platform else ""})
                              for i in agent.identities if i.exclusive and i.ref in other_ids}
        """Identities declared exclusive to X that other live agents also run as: contradicted."""
        self.live_ids = {f"identity:{r}" for r in other_ids} | {f"platform:{r}" for r in other_ids}
        """Identities another live agent runs as (or has as its platform): they outlive X."""
        mine = set(agent_workflow_nodes(agent, sg.collected))
        run_by_others = {w for a in self.others for w in agent_workflow_nodes(a, sg.collected)}
        roots = {n for n, wf in sg.collected.files.items() if wf.root or wf.ref.kind not in CI_KINDS}
        # what still runs without X: other agents' workflows, CI roots and configs / code X does
        # not run, and everything they call; what X runs (and calls) outside that dies with it
        alive = _closure(sg, (roots - mine) | run_by_others)
        dying = _closure(sg, mine) - alive
        self.dying_workflows = dying
        self.alive_roots = sorted(roots - dying)
        self.dies = (agent.node, *sorted(self.dying_ids), *sorted(dying))
        self.credentials = dict(sg.credentials)
        self.verifications = getattr(sg, "verifications", {})
        for fp, v in self.verifications.items():  # `--verify`: a provider's expiry is evidence too
            if fp in self.credentials and (t := provider_expiry(v)):
                c = self.credentials[fp]
                self.credentials[fp] = replace(c, captures=c.captures + ((PROVIDER_EXPIRY, t.isoformat()),))
        self.declarations: dict[str, list[tuple[Agent, CredentialRef]]] = {}
        for a in inv.agents:
            for cr in a.credentials:
                fps = sg.resolver.declared[(a.name, cr.id)][0]
                if not fps and cr.lifetime == "federated":
                    fed = federated_credential(a, cr)
                    self.credentials[fed.fingerprint] = fed
                    fps = {fed.fingerprint}
                for fp in fps:
                    self.declarations.setdefault(fp, []).append((a, cr))

    def lifetime(self, cred: Credential) -> Lifetime:
        return lifetime(cred, self.declarations.get(cred.fingerprint, []), self.at, self.grace, self.max_short)

    def reach(self, agent: Agent) -> list[Reach]:
        """Step 2 for one agent: declarations, credentials issued to its identities, workflows."""
        sg = self.sg
        out: list[Reach] = []
        for cr in agent.credentials:
            rn = f"reference:inventory:{agent.name}#{cr.id}"
            fps, how = sg.resolver.declared[(agent.name, cr.id)]
            if not fps and cr.lifetime == "federated":
                fed = federated_credential(agent, cr)
                out.append(Reach(fed.fingerprint, (agent.node, rn, f"credential:{fed.fingerprint}"),
                                 "inventory: federated (no stored value by design)"))
            elif not fps:
                cands = tuple(sorted(sg.resolver.candidates.get((agent.name, cr.id), ())))
                why = f"ambiguous: {len(cands)} values are stored under its env names" if cands else "unresolved"
                out.append(Reach(None, (agent.node, rn), why, cr.id, f"inventory:{agent.name}", agent.node, cands))
            out += [Reach(fp, (agent.node, rn, f"credential:{fp}"), how) for fp in sorted(fps)]
        mine = {i.ref for i in agent.identities}
        for fp, decls in self.declarations.items():
            for a, cr in decls:
                p = principal_node(a, cr)
                if a.name != agent.name and p and p.removeprefix("identity:") in mine and p.startswith("identity:"):
                    out.append(Reach(fp, (agent.node, p, f"credential:{fp}"), f"authenticates as {p}"))
        for wn in agent_workflow_nodes(agent, sg.collected):
            wf = sg.collected.files.get(wn)
            scope = scope_for(wf.ref, agent.name) if wf else None
            if scope is None and wn in sg.collected.seen:  # read, no name it reads; values written in it count
                _, kind, repo_path = wn.split(":", 2)
                repo, _, path = repo_path.rpartition(":")
                out += [Reach(r.fingerprint, (agent.node, *r.path), r.how) for r in written_in(sg.resolver, wn, repo, path)]
                if kind in ("mcp", "compose"):  # named for its entries, and none was found: unknown
                    out.append(Reach(None, (agent.node, wn), f"no {'MCP server' if kind == 'mcp' else 'compose service'} "
                                     "entry found in it: what the agent runs from it is not known", wn, "", agent.node))
                continue
            if scope is None:
                out.append(Reach(None, (agent.node, wn), "workflow not found in the scanned sources", wn, "", agent.node))
                continue
            out += evaluate(sg.resolver, wn, scope, (agent.node,))
        return out

    def consumers(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Live consumers other than the agent (other agents; CI workflows, configs and code
        that survive it), each with the first path by which it reaches the credential. An
        ambiguous reference is a possible consumer of every value it may mean."""
        out: dict[str, dict[str, tuple[str, ...]]] = {}

        def add(holder: str, r: Reach) -> None:
            for fp in (r.fingerprint,) if r.fingerprint else r.candidates:
                out.setdefault(fp, {}).setdefault(holder, r.path)

        for a in self.others:
            for r in self.reach(a):  # the principal it is issued to is not a consumer
                if not r.how.startswith("authenticates as"):
                    add(a.node, r)
        for node in self.alive_roots:
            wf = self.sg.collected.files[node]
            for r in evaluate(self.sg.resolver, node, scope_for(wf.ref)):
                add(node, r)
        return out


def _survives_minter(ctx: _Context, decls: list[tuple[Agent, CredentialRef]], seen: frozenset[str]) -> str | None:
    """The node of a surviving parent that mints this credential, if any (a minting credential
    whose value was not found may survive: missing evidence never kills)."""
    for a, cr in decls:
        if not cr.minted_by:
            continue
        m = minter_node(a, cr.minted_by)
        if m.startswith("reference:"):
            fps = ctx.sg.resolver.declared[(a.name, cr.minted_by)][0]
            if not fps or any(fp not in seen and _death(ctx, fp, seen | {fp})[0] is None for fp in fps):
                return m
        elif m not in ctx.dying_ids:
            return m
    return None


def _death(ctx: _Context, fp: str, seen: frozenset[str] = frozenset()) -> tuple[str | None, dt.datetime | None]:
    """Step 3: why the credential dies with the agent, or None; and its known expiry.
    Contradicted expiry evidence never kills."""
    cred = ctx.credentials[fp]
    decls = ctx.declarations.get(fp, [])
    expiry = _expiry(cred, decls)
    verification = ctx.verifications.get(fp)
    rejected = provider_death(verification)  # the provider's word outranks every inference
    if rejected:
        return rejected, expiry
    if cred.rule_id == "federated":
        roles = {p for a, cr in decls if (p := principal_node(a, cr))}
        if roles and roles <= ctx.dying_ids:
            return (f"federated: no stored value; the role it is issued to ({', '.join(sorted(roles))}) "
                    "dies with the agent"), expiry
        return None, expiry
    principals = [(principal_node(a, cr), cr) for a, cr in decls]
    if provider_says_human(verification):  # a person's key: not issued to the dying identity
        principals = []
    if principals and all(p in ctx.dying_ids for p, _ in principals):
        provider = (principals[0][1].provider or cred.provider)
        override = {cr.invalidated_with_principal for _, cr in principals} - {None}
        known = override == {True} or (not override and provider in INVALIDATES_WITH_PRINCIPAL
                                       and not _provider_mismatch(cred, decls))
        if known:
            why = INVALIDATES_WITH_PRINCIPAL.get(provider, "the inventory says so")
            return f"issued only to {', '.join(sorted({p for p, _ in principals if p}))}, which dies with the agent ({why})", expiry
    if ctx.lifetime(cred).kind == "short-lived" and expiry is not None and not expiry_conflicts(cred, decls):
        limit = later(ctx.at, ctx.grace)
        if expiry <= limit and _survives_minter(ctx, decls, seen | {fp}) is None:
            when = "expired" if expiry <= ctx.at else "expires"
            return f"short-lived: {when} {expiry.isoformat()} (within the grace period) and no surviving parent mints it", expiry
    return None, expiry


def _reason(ctx: _Context, cred: Credential, holders: set[str], expiry: dt.datetime | None) -> tuple[str, str]:
    decls = ctx.declarations.get(cred.fingerprint, [])
    name = ctx.agent.name
    if holders:
        return "shared", f"rotate it at {cred.provider} and give the new value only to {', '.join(sorted(holders))}"
    person = provider_says_human(ctx.verifications.get(cred.fingerprint))
    if person:  # the provider says whose it is, whatever the inventory declared
        conflict = "".join(f" ({c})" for c in _provider_conflicts(ctx, cred))
        return "human", (f"the provider says it belongs to {person}{conflict}: revoke it or hand it back; "
                         "give the next agent its own identity")
    plat = []
    for a, cr in decls:  # platform: issued to a platform, or to an identity another live agent runs as
        p = principal_node(a, cr)
        if cr.issued_to == "platform" or (p in ctx.live_ids and p not in ctx.dying_ids):
            plat.append(p or "its platform")
    if plat:
        return "platform", f"keep it; remove {name}'s grants on {plat[0]} and delete its copies"
    humans = [cr.principal or "its owner" for _, cr in decls if cr.issued_to == "human"]
    if humans or (not any(cr.issued_to for _, cr in decls) and cred.rule_id in HUMAN_RULES):
        who = humans[0] if humans else "the person it belongs to"
        return "human", f"revoke it or hand it back to {who}; give the next agent its own identity"
    life = ctx.lifetime(cred)
    if life.kind == "static" or expiry is None:
        if cred.rule_id == "federated":
            return "orphaned", "remove the trust policy / role binding that lets it be issued: nothing else uses it"
        until = life.note or (f"it works until {expiry.isoformat()}" if expiry else
                              "expiry unknown: no evidence that it ever stops working")
        stray = _stray_copies(ctx, cred)
        if stray:  # a copy in a file nothing models may have a reader: never say nothing uses it
            more = f" and {len(stray) - 3} more" if len(stray) > 3 else ""
            return "orphaned", (f"revoke it at {cred.provider} once the live copies outside what {name} runs "
                                f"({', '.join(stray[:3])}{more}) are checked: no other agent or workflow is "
                                f"known to use it, but a program reading those files would lose it; {until}")
        return "orphaned", f"revoke it at {cred.provider}: nothing else uses it and {until}"
    return "expiring", f"revoke it early at {cred.provider} or let it lapse at {expiry.isoformat()}"


def _stray_copies(ctx: _Context, cred: Credential) -> list[str]:
    """Live copies in files (working trees, HEAD) that are none of the files the agent runs:
    nothing models who reads them, so "nothing else uses it" would be a guess."""
    files = [wf for n in ctx.dying_workflows if (wf := ctx.sg.collected.files.get(n))]
    mine = {wf.ref.path for wf in files} | {r.file for wf in files for r in wf.refs if r.file}
    out = []
    for loc in cred.locations:
        if loc.state == "live" and loc.source in ("git", "file") and loc.path not in mine:
            where = f"{loc.container}:{loc.path}" if loc.container else loc.path
            out.append(f"{where}:{loc.line}" if loc.line else where)
    return list(dict.fromkeys(out))


GENERIC_PROVIDERS = frozenset({"jwt", "netrc", "database", "federated", "unknown", ""})
"""Rule providers that say what a value is, not who issued it: a declared provider may name it."""


def _provider_mismatch(cred: Credential, decls: list[tuple[Agent, CredentialRef]]) -> tuple[str, ...]:
    """The inventory declares a provider other than the one whose credential the scan found."""
    if cred.provider in GENERIC_PROVIDERS:
        return ()
    other = sorted({cr.provider for _, cr in decls if cr.provider and cr.provider != cred.provider})
    return (f"the inventory declares provider {', '.join(other)}, but the value is a {cred.provider} credential "
            f"({cred.rule_id}): what deleting its principal does is not known; correct the inventory",) if other else ()


def _provider_conflicts(ctx: _Context, cred: Credential) -> tuple[str, ...]:
    """The provider says a person holds it, the inventory declares it issued to something else."""
    person = provider_says_human(ctx.verifications.get(cred.fingerprint))
    declared = sorted({cr.issued_to or "" for _, cr in ctx.declarations.get(cred.fingerprint, [])} - {"", "human"})
    if not person or not declared:
        return ()
    return (f"the inventory declares it issued to {', '.join(declared)}; the provider says it belongs to "
            f"{person}",)


def _exclusive_conflicts(ctx: _Context, cred: Credential) -> tuple[str, ...]:
    """The inventory declares X's identity exclusive, yet another live agent runs as it."""
    out = []
    for a, cr in ctx.declarations.get(cred.fingerprint, []):
        p = principal_node(a, cr)
        if p in ctx.not_exclusive:
            out.append(f"{p} is declared exclusive to {ctx.agent.name}, but "
                       f"{', '.join(ctx.not_exclusive[p])} also runs as it: the inventory contradicts itself")
    return tuple(dict.fromkeys(out))


def _owners(cred: Credential) -> tuple[str, ...]:
    """Owners the vault states for the credential (`custom_metadata.owner` / `owner`)."""
    out = []
    for loc in cred.locations:
        if loc.source == "vault" and loc.state == "live":
            attrs = dict(getattr(loc, "attributes", ()) or ())
            out += [str(attrs[k]) for k in ("custom_metadata.owner", "owner") if attrs.get(k)]
    return tuple(dict.fromkeys(out))


def _tags(cred: Credential, reason: str | None, lifetime: str) -> tuple[str, ...]:
    if reason is None:
        return ()
    tags = {"NHI1:2025", "PR.AA-01"}
    if reason == "shared":
        tags |= {"NHI9:2025", "PR.AA-05"}
    if reason == "platform":
        tags.add("PR.AA-05")
    if reason == "human":
        tags.add("NHI10:2025")
    if lifetime == "static":
        tags.add("NHI7:2025")
    if any(loc.source not in NON_VAULT_STORES for loc in cred.locations):
        tags.add("NHI2:2025")
    return tuple(sorted(tags))


def survivors(sg: SprawlGraph, agent_name: str, at: dt.datetime | None = None,
              grace: dt.timedelta = dt.timedelta(hours=24), strict: bool = False,
              max_short: dt.timedelta = DEFAULT_MAX_SHORT) -> SurvivalReport:
    """Steps 1-5 for one agent; `max_short`: the longest a short-lived credential of a kind with
    no documented maximum lifetime is believed to live (longer: contradicted, counted static)."""
    agent = sg.inventory.agent(agent_name)
    if agent is None:
        known = ", ".join(a.name for a in sg.inventory.agents) or "none"
        raise ConfigError(f"unknown agent {agent_name!r} (known: {known})")
    ctx = _Context(sg, agent, at or dt.datetime.now(dt.timezone.utc), grace, max_short)
    reached: dict[str, list[Reach]] = {}
    unresolved: list[Reach] = []
    for r in ctx.reach(agent):
        if r.fingerprint is None:
            unresolved.append(r)
        for fp in (r.fingerprint,) if r.fingerprint else r.candidates:  # ambiguous: each value it may mean
            if fp in ctx.credentials:
                reached.setdefault(fp, []).append(r if r.fingerprint else Reach(fp, (*r.path, f"credential:{fp}"), r.how))
    consumers = ctx.consumers()
    verdicts = []
    for fp in sorted(reached):
        cred = ctx.credentials[fp]
        decls = ctx.declarations.get(fp, [])
        holder_paths = {h: p for h, p in consumers.get(fp, {}).items() if h != agent.node}
        holders = set(holder_paths)
        dies_because, expiry = _death(ctx, fp)
        life = ctx.lifetime(cred)
        if dies_because:
            reason, action = None, "none at the provider: it stops working; delete the leftover copies"
        else:
            reason, action = _reason(ctx, cred, holders, expiry)
        paths = tuple(dict.fromkeys(r.path for r in reached[fp]))
        verdicts.append(Verdict(cred, dies_because is None, reason, dies_because, action, paths,
                                tuple(dict.fromkeys(r.how for r in reached[fp])), tuple(sorted(holders)),
                                _tags(cred, reason, life.kind), expiry, life.kind,
                                tuple(holder_paths[h] for h in sorted(holders)),
                                (expiry_conflicts(cred, decls) + life.contradictions + _provider_mismatch(cred, decls) + _provider_conflicts(ctx, cred)
                                 + _exclusive_conflicts(ctx, cred)) if dies_because is None else (), _owners(cred), ctx.verifications.get(fp)))
    uniq = {(r.name, r.scope, r.referenced_by): r for r in unresolved}
    items = [uniq[k] for k in sorted(uniq)]
    return SurvivalReport(agent, ctx.at, grace, strict, ctx.dies, tuple(verdicts),
                          tuple(r for r in items if r.blocking), tuple(r for r in items if not r.blocking))
