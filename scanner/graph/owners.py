"""Graph stage: who answers for each credential. Takes a `SprawlGraph` built with a declared
inventory and gives, per credential fingerprint, a `CredentialOwners`: the agents that use it
(inventory declarations, credentials issued to their identities, and the workflows they run,
evaluated per call as survival does) and the owner refs those agents name (`technicalOwner`
before `owner`), plus the person a human credential is declared issued to. Notifications use it
to name owners and to assign Jira issues (the inventory's `people:` map). Refs only, never a
value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scanner.graph.build import SprawlGraph
from scanner.graph.inventory import Agent
from scanner.graph.survival import _Context


@dataclass(frozen=True, slots=True)
class CredentialOwners:
    """Who answers for one credential."""

    agents: tuple[str, ...] = ()
    """Agents that use it (sorted)."""
    owners: tuple[str, ...] = ()
    """Their owner refs, technical owners first, then business owners, then named principals."""
    assignee: tuple[str, str] | None = None
    """(owner ref, Jira account id) of the first owner the inventory maps to a Jira account."""


def credential_owners(sg: SprawlGraph) -> dict[str, CredentialOwners]:
    """Fingerprint → its owners, for every credential some declared agent uses (an ambiguous
    reference names no owner: it may mean another value)."""
    agents = [a for a in sg.inventory.agents if not a.inferred]
    if not agents:
        return {}
    ctx = _Context(sg, agents[0], dt.datetime.now(dt.timezone.utc), dt.timedelta(0))
    users: dict[str, set[str]] = {}
    principals: dict[str, list[str]] = {}
    for agent in agents:
        for reach in ctx.reach(agent):
            if reach.fingerprint is not None and reach.fingerprint in sg.credentials:
                users.setdefault(reach.fingerprint, set()).add(agent.name)
        for cr in agent.credentials:
            if cr.issued_to == "human" and cr.principal:
                for fp in sg.resolver.declared[(agent.name, cr.id)][0]:
                    principals.setdefault(fp, []).append(cr.principal)
    by_name = {a.name: a for a in agents}
    out = {}
    for fp in sorted(users.keys() | principals.keys()):
        names = sorted(users.get(fp, ()))
        refs = _refs([by_name[n] for n in names], principals.get(fp, []))
        jira = next(((r, acc) for r in refs if (acc := sg.inventory.jira_account(r))), None)
        out[fp] = CredentialOwners(tuple(names), refs, jira)
    return out


def _refs(agents: list[Agent], principals: list[str]) -> tuple[str, ...]:
    ordered = [a.owner.technical for a in agents] + [a.owner.business for a in agents] + principals
    return tuple(dict.fromkeys(r for r in ordered if r))
