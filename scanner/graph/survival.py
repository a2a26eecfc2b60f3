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
from dataclasses import dataclass

from scanner.errors import ConfigError
from scanner.graph.build import SprawlGraph, agent_workflow_nodes, minter_node, principal_node, scope_for
from scanner.graph.evidence import provider_death, provider_expiry, provider_says_human
from scanner.graph.inventory import Agent, CredentialRef
from scanner.graph.resolve import Reach, evaluate
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
EXPIRY_ATTRIBUTES = ("custom_metadata.expires", "custom_metadata.expires_at", "custom_metadata.expiry",
                     "custom_metadata.expiration", "custom_metadata.expires-at", "expires", "expires_at",
                     "expiry", "expiration")
"""Vault attributes that state when the value stops working (never `deletion_time`: deleting a
copy does not kill a credential)."""
NON_VAULT_STORES = ("vault", "github-secret", "github-variable", "gitlab-variable", "ci-variable")


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

    @property
    def blocked(self) -> bool:
        if self.unresolved:
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


def parse_grace(value: str) -> dt.timedelta:
    """`--grace`: `24h`, `90m`, `2d`, `3600s` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    v = value.strip().lower()
    try:
        n = float(v[:-1]) * units[v[-1]] if v and v[-1] in units else float(v)
    except ValueError:
        raise ConfigError(f"--grace: not a duration: {value!r} (e.g. 24h, 90m, 2d)") from None
    if n < 0:
        raise ConfigError(f"--grace: must not be negative: {value!r}")
    return dt.timedelta(seconds=n)


def _as_time(v: str) -> dt.datetime | None:
    try:
        if v.isdigit():
            return dt.datetime.fromtimestamp(int(v), dt.timezone.utc)
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


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


class _Context:
    """Step 1 and the facts every verdict needs, computed once per agent."""

    def __init__(self, sg: SprawlGraph, agent: Agent, at: dt.datetime, grace: dt.timedelta) -> None:
        self.sg, self.agent, self.at, self.grace = sg, agent, at, grace
        inv = sg.inventory
        self.others = [a for a in inv.agents if a.name != agent.name and a.lifecycle != "retired"]
        other_ids = {i.ref for a in self.others for i in a.identities} | \
                    {a.platform.ref for a in self.others if a.platform}
        self.dying_ids = {f"identity:{i.ref}" for i in agent.identities if i.exclusive and i.ref not in other_ids}
        mine = set(agent_workflow_nodes(agent, sg.collected))
        run_by_others = {w for a in self.others for w in agent_workflow_nodes(a, sg.collected)}
        roots = {n for n, wf in sg.collected.files.items() if wf.root}
        # what still runs without X: other agents' workflows and CI roots X does not run, and
        # everything they call; what X runs (and calls) outside that dies with it
        alive = _closure(sg, (roots - mine) | run_by_others)
        dying = _closure(sg, mine) - alive
        self.dying_workflows = dying
        self.dies = (agent.node, *sorted(self.dying_ids), *sorted(dying))
        self.declarations: dict[str, list[tuple[Agent, CredentialRef]]] = {}
        for a in inv.agents:
            for cr in a.credentials:
                for fp in sg.resolver.declared[(a.name, cr.id)][0]:
                    self.declarations.setdefault(fp, []).append((a, cr))

    def reach(self, agent: Agent) -> list[Reach]:
        """Step 2 for one agent: declarations, credentials issued to its identities, workflows."""
        sg = self.sg
        out: list[Reach] = []
        for cr in agent.credentials:
            rn = f"reference:inventory:{agent.name}#{cr.id}"
            fps, how = sg.resolver.declared[(agent.name, cr.id)]
            if not fps:
                out.append(Reach(None, (agent.node, rn), "unresolved", cr.id, f"inventory:{agent.name}", agent.node))
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
            if scope is None and wn in sg.collected.seen:
                continue  # read, and it references nothing
            if scope is None:
                out.append(Reach(None, (agent.node, wn), "workflow not found in the scanned sources", wn, "", agent.node))
                continue
            out += evaluate(sg.resolver, wn, scope, (agent.node,))
        return out

    def consumers(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Live consumers other than the agent (other agents, CI workflows that survive it), each
        with the first path by which it reaches the credential."""
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        for a in self.others:
            for r in self.reach(a):  # the principal it is issued to is not a consumer
                if r.fingerprint and not r.how.startswith("authenticates as"):
                    out.setdefault(r.fingerprint, {}).setdefault(a.node, r.path)
        for node, wf in self.sg.collected.files.items():
            if wf.root and node not in self.dying_workflows:
                for r in evaluate(self.sg.resolver, node, scope_for(wf.ref)):
                    if r.fingerprint:
                        out.setdefault(r.fingerprint, {}).setdefault(node, r.path)
        return out


def _lifetime(cred: Credential, decls: list[tuple[Agent, CredentialRef]],
              provider_exp: dt.datetime | None = None) -> str:
    declared = {cr.lifetime for _, cr in decls if cr.lifetime}
    if declared:
        return "static" if "static" in declared else "short-lived"
    if "exp" in dict(cred.captures) or provider_exp:  # its own expiry (JWT `exp`, the provider's)
        return "short-lived"
    return "short-lived" if cred.lifetime_hint == "short-lived" else "static"


def _expiry(cred: Credential, decls: list[tuple[Agent, CredentialRef]],
            provider_exp: dt.datetime | None = None) -> dt.datetime | None:
    times = [cr.expires for _, cr in decls if cr.expires]
    if provider_exp:  # `--verify`: the provider's expiry is evidence like the inventory's
        times.append(provider_exp)
    for loc in cred.locations:
        if loc.source == "vault" and loc.state == "live":
            attrs = dict(getattr(loc, "attributes", ()) or ())
            times += [t for k in EXPIRY_ATTRIBUTES if k in attrs and (t := _as_time(str(attrs[k])))]
    caps = dict(cred.captures)
    if "exp" in caps and (t := _as_time(caps["exp"])):
        times.append(t)
    return min(times) if times else None


def _survives_minter(ctx: _Context, decls: list[tuple[Agent, CredentialRef]], seen: frozenset[str]) -> str | None:
    """The node of a surviving parent that mints this credential, if any."""
    for a, cr in decls:
        if not cr.minted_by:
            continue
        m = minter_node(a, cr.minted_by)
        if m.startswith("reference:"):
            fps = ctx.sg.resolver.declared[(a.name, cr.minted_by)][0]
            if any(fp not in seen and _death(ctx, fp, seen | {fp})[0] is None for fp in fps):
                return m
        elif m not in ctx.dying_ids:
            return m
    return None


def _death(ctx: _Context, fp: str, seen: frozenset[str] = frozenset()) -> tuple[str | None, dt.datetime | None]:
    """Step 3: why the credential dies with the agent, or None; and its known expiry."""
    cred = ctx.sg.credentials[fp]
    decls = ctx.declarations.get(fp, [])
    verification = getattr(ctx.sg, "verifications", {}).get(fp)
    p_exp = provider_expiry(verification)
    expiry = _expiry(cred, decls, p_exp)
    rejected = provider_death(verification)  # the provider's word outranks every inference
    if rejected:
        return rejected, expiry
    if _lifetime(cred, decls, p_exp) == "short-lived" and expiry is not None:
        limit = ctx.at + ctx.grace
        if expiry <= limit and _survives_minter(ctx, decls, seen | {fp}) is None:
            when = "expired" if expiry <= ctx.at else "expires"
            return f"short-lived: {when} {expiry.isoformat()} (within the grace period) and no surviving parent mints it", expiry
    principals = [(principal_node(a, cr), cr) for a, cr in decls]
    if provider_says_human(verification):  # a person's key: not issued to the dying identity
        principals = []
    if principals and all(p in ctx.dying_ids for p, _ in principals):
        provider = (principals[0][1].provider or cred.provider)
        override = {cr.invalidated_with_principal for _, cr in principals} - {None}
        known = override == {True} or (not override and provider in INVALIDATES_WITH_PRINCIPAL)
        if known:
            why = INVALIDATES_WITH_PRINCIPAL.get(provider, "the inventory says so")
            return f"issued only to {', '.join(sorted({p for p, _ in principals if p}))}, which dies with the agent ({why})", expiry
    return None, expiry


def _reason(ctx: _Context, cred: Credential, holders: set[str], expiry: dt.datetime | None) -> tuple[str, str]:
    decls = ctx.declarations.get(cred.fingerprint, [])
    name = ctx.agent.name
    if holders:
        return "shared", f"rotate it at {cred.provider} and give the new value only to {', '.join(sorted(holders))}"
    person = provider_says_human(getattr(ctx.sg, "verifications", {}).get(cred.fingerprint))
    if person:  # the provider says whose it is, whatever the inventory declared
        declared = sorted({cr.issued_to or "" for _, cr in decls} - {"", "human"})
        conflict = f" (the inventory declares it issued to {', '.join(declared)})" if declared else ""
        return "human", (f"the provider says it belongs to {person}{conflict}: revoke it or hand it back; "
                         "give the next agent its own identity")
    plat = []
    for a, cr in decls:
        p = principal_node(a, cr)
        if cr.issued_to == "platform" or (p and p.startswith("identity:") and p not in ctx.dying_ids):
            plat.append(p or "its platform")
    if plat:
        return "platform", f"keep it; remove {name}'s grants on {plat[0]} and delete its copies"
    humans = [cr.principal or "its owner" for _, cr in decls if cr.issued_to == "human"]
    if humans or (not any(cr.issued_to for _, cr in decls) and cred.rule_id in HUMAN_RULES):
        who = humans[0] if humans else "the person it belongs to"
        return "human", f"revoke it or hand it back to {who}; give the next agent its own identity"
    if _lifetime(cred, decls, provider_expiry(getattr(ctx.sg, "verifications", {}).get(cred.fingerprint))) == "static":
        return "orphaned", f"revoke it at {cred.provider}: nothing else uses it and it never expires"
    when = expiry.isoformat() if expiry else "its expiry (unknown)"
    return "expiring", f"revoke it early at {cred.provider} or let it lapse at {when}"


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
              grace: dt.timedelta = dt.timedelta(hours=24), strict: bool = False) -> SurvivalReport:
    agent = sg.inventory.agent(agent_name)
    if agent is None:
        known = ", ".join(a.name for a in sg.inventory.agents) or "none"
        raise ConfigError(f"unknown agent {agent_name!r} (known: {known})")
    ctx = _Context(sg, agent, at or dt.datetime.now(dt.timezone.utc), grace)
    reached: dict[str, list[Reach]] = {}
    unresolved: list[Reach] = []
    for r in ctx.reach(agent):
        if r.fingerprint is None:
            unresolved.append(r)
        elif r.fingerprint in sg.credentials:
            reached.setdefault(r.fingerprint, []).append(r)
    consumers = ctx.consumers()
    verdicts = []
    for fp in sorted(reached):
        cred = sg.credentials[fp]
        holder_paths = {h: p for h, p in consumers.get(fp, {}).items() if h != agent.node}
        holders = set(holder_paths)
        dies_because, expiry = _death(ctx, fp)
        lifetime = _lifetime(cred, ctx.declarations.get(fp, []), provider_expiry(sg.verifications.get(fp)))
        if dies_because:
            reason, action = None, "none at the provider: it stops working; delete the leftover copies"
        else:
            reason, action = _reason(ctx, cred, holders, expiry)
        paths = tuple(dict.fromkeys(r.path for r in reached[fp]))
        verdicts.append(Verdict(cred, dies_because is None, reason, dies_because, action, paths,
                                tuple(dict.fromkeys(r.how for r in reached[fp])), tuple(sorted(holders)),
                                _tags(cred, reason, lifetime), expiry, lifetime,
                                tuple(holder_paths[h] for h in sorted(holders)), sg.verifications.get(fp)))
    uniq = {(r.name, r.scope, r.referenced_by): r for r in unresolved}
    return SurvivalReport(agent, ctx.at, grace, strict, ctx.dies, tuple(verdicts),
                          tuple(uniq[k] for k in sorted(uniq)))
