"""Graph input: Backstage descriptors. Takes one `catalog-info.yaml` document of `spec.type:
ai-agent` and gives an inventory `Agent`: `metadata.description` = purpose, `spec.owner` = owner,
`spec.dependsOn` = platform, `vault.io/secrets-path` + `sprawlscan.io/env-vars` = one credential
per env var at `path#VAR`, `sprawlscan.io/ci-secrets` / `technical-owner` / `expires` /
`lifecycle` / `workflows` (comma lists) for the rest. A `User` / `Group` entity annotated
`sprawlscan.io/jira-account-id` maps that owner to a Jira account (the inventory's `people:`)."""

from __future__ import annotations

from typing import Any

from scanner.errors import ConfigError
from scanner.graph.inventory import (LIFECYCLES, Agent, CredentialRef, IdentityRef, Owner, Person, _choice,
                                     _Ctx, _date, _list, _str, parse_ci, parse_people, parse_vault,
                                     parse_workflow)

JIRA_ACCOUNT = "sprawlscan.io/jira-account-id"


def backstage_agent(ctx: _Ctx, doc: dict[str, Any]) -> Agent:
    """A Backstage descriptor mapped onto the inventory's fields (see INVENTORY.md)."""
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        raise ConfigError(f"{ctx.file}: metadata and spec must be mappings")
    ann = meta.get("annotations") or {}
    if not isinstance(ann, dict):
        raise ConfigError(f"{ctx.file}: agent {meta.get('name')!r}: field 'metadata.annotations': must be a mapping")

    def a(key: str) -> Any:
        return ann.get(f"sprawlscan.io/{key}")

    depends = _list(ctx, "spec.dependsOn", spec.get("dependsOn"))
    vault_path = _str(ctx, "vault.io/secrets-path", ann.get("vault.io/secrets-path"))
    env = [str(e) for e in _list(ctx, "sprawlscan.io/env-vars", a("env-vars"))]
    ci = [parse_ci(ctx, "sprawlscan.io/ci-secrets", c) for c in _list(ctx, "sprawlscan.io/ci-secrets", a("ci-secrets"))]
    creds = []
    for var in env:
        vault = parse_vault(ctx, "vault.io/secrets-path", f"{vault_path}#{var}") if vault_path else None
        creds.append(CredentialRef(id=var, vault=vault, env=(var,), ci=tuple(c for c in ci if c.name == var)))
    creds += [CredentialRef(id=c.name, ci=(c,)) for c in ci if c.name not in env]
    return Agent(
        name=_str(ctx, "metadata.name", meta.get("name"), True) or "",
        purpose=_str(ctx, "metadata.description", meta.get("description")),
        owner=Owner(_str(ctx, "spec.owner", spec.get("owner")), _str(ctx, "sprawlscan.io/technical-owner", a("technical-owner"))),
        lifecycle=_choice(ctx, "sprawlscan.io/lifecycle", a("lifecycle") or spec.get("lifecycle"), LIFECYCLES),
        expires=_date(ctx, "sprawlscan.io/expires", a("expires")),
        platform=IdentityRef(str(depends[0])) if depends else None,
        credentials=tuple(creds),
        workflows=tuple(parse_workflow(ctx, "sprawlscan.io/workflows", dict([w.split(":", 1)]) if ":" in w else w)
                        for w in (str(x) for x in _list(ctx, "sprawlscan.io/workflows", a("workflows")))),
        source=ctx.file)


def backstage_person(file: str, doc: dict[str, Any]) -> list[Person]:
    """A Backstage `User` / `Group` entity with a `sprawlscan.io/jira-account-id` annotation: the
    `people:` entry of `user:<name>` / `group:<name>` (others give nothing)."""
    meta = doc.get("metadata") or {}
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(ann, dict) or JIRA_ACCOUNT not in ann:
        return []
    name = meta.get("name")
    kind = "user" if doc.get("kind") == "User" else "group"
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{file}: a Backstage {doc.get('kind')} with {JIRA_ACCOUNT} needs metadata.name")
    return parse_people(file, {f"{kind}:{name}": {"jira": ann[JIRA_ACCOUNT]}})
