"""Graph stage, provider evidence (`--verify`): turns what providers said about credentials into
graph facts and survival evidence. `add_provider_identities` gives each identity a provider
named an `identity` node with a `holds` edge to the credential (`source: provider`), so the graph
shows whose a key is even without an inventory; admin listings (`--admin-token`) add the key's
owner, project and creation date the same way (`source: admin-listing`). The survival helpers
read a verification as evidence: `invalid` kills, a person's valid key is `human`, a provider's
expiry is expiry evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import networkx as nx

from scanner.verify.base import Verification


def identity_node(v: Verification) -> str | None:
    ident = v.identity
    if ident is None or not (ident.id or ident.name):
        return None
    return f"identity:provider:{v.verifier or 'unknown'}:{ident.id or ident.name}"


def add_provider_identities(g: nx.MultiDiGraph, verifications: Mapping[str, Verification]) -> None:
    """Every verified credential node gets `verified` (its status); every identity a provider
    named becomes a node holding it."""
    for fp, v in sorted(verifications.items()):
        cn = f"credential:{fp}"
        if cn not in g:
            continue
        g.nodes[cn]["verified"] = v.status
        g.nodes[cn]["verified_at"] = v.checked_at
        if v.expires_at:
            g.nodes[cn]["provider_expires_at"] = v.expires_at
        if v.listing:
            add_listing(g, cn, dict(v.listing))
        node = identity_node(v)
        if node is None or v.identity is None:
            continue
        if node not in g:
            attrs = {"source": "provider", "provider": v.verifier, "identity_kind": v.identity.kind,
                     "name": v.identity.name, "provider_id": v.identity.id,
                     "human": v.identity.human}
            g.add_node(node, kind="identity", **{k: a for k, a in attrs.items() if a is not None})
        g.add_edge(node, cn, kind="holds", source="provider", status=v.status, checked_at=v.checked_at)


def add_listing(g: nx.MultiDiGraph, cn: str, facts: dict[str, str]) -> None:
    """An admin listing's facts: project, name and creation date on the credential; its owner as
    an identity holding it (`source: admin-listing`)."""
    for k in ("project", "key_name", "created_at", "key_id"):
        if facts.get(k):
            g.nodes[cn][f"listed_{k}"] = facts[k]
    owner = facts.get("owner_id") or facts.get("owner")
    if not owner:
        return
    node = f"identity:listing:{facts.get('listing', 'unknown')}:{owner}"
    if node not in g:
        attrs = {"source": "admin-listing", "provider": facts.get("listing"), "name": facts.get("owner"),
                 "identity_kind": facts.get("owner_kind") or "unknown", "provider_id": facts.get("owner_id")}
        g.add_node(node, kind="identity", **{k: a for k, a in attrs.items() if a})
    g.add_edge(node, cn, kind="holds", source="admin-listing", project=facts.get("project", ""),
               created_at=facts.get("created_at", ""))


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def provider_death(v: Verification | None) -> str | None:
    """Why the credential is dead on the provider's word, or None."""
    if v is None or v.status != "invalid":
        return None
    return f"the provider rejected it at {v.checked_at} ({v.detail})"


def provider_expiry(v: Verification | None) -> dt.datetime | None:
    """The expiry a provider stated for a credential it accepted."""
    return _time(v.expires_at) if v is not None and v.status == "valid" else None


def provider_says_human(v: Verification | None) -> str | None:
    """The person a valid credential belongs to, when the provider says it is a person."""
    if v is None or v.status != "valid" or v.identity is None or v.identity.human is not True:
        return None
    return v.identity.name or v.identity.id or "a person"
