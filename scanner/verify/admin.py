"""Admin listings (`--admin-token PROVIDER=ENV_NAME`, with `--verify`): where a provider documents a
listing that identifies keys without their value (OpenAI admin and project API keys with
`redacted_value`, Anthropic API keys with `partial_key_hint`), read it with the admin token and
join each listed key to a found credential by its prefix and suffix hint. A join must be unique
both ways (one listed key for the credential, one credential for the listed key): the key's owner,
project/workspace, name and creation date then become facts about the credential. Plaintexts are
compared in memory only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from scanner.errors import ConfigError
from scanner.verify.base import Client, Unverifiable, Verification, VerifyOptions, check_base

MAX_PAGES = 50


@dataclass(frozen=True, slots=True)
class Listed:
    """One key as an admin listing shows it."""

    provider: str
    hint: str
    """`sk-abc...xyz`: the listing's redacted value / partial hint."""
    facts: tuple[tuple[str, str], ...]
    """key_id, key_name, owner, owner_id, owner_kind, project, created_at, status (those known)."""


ADMIN_PROVIDERS: dict[str, tuple[str, str]] = {
    "gitlab": ("https://gitlab.com", "https://docs.gitlab.com/api/users/#list-projects-and-groups-that-a-user-is-a-member-of"),
    "openai": ("https://api.openai.com",
               "https://platform.openai.com/docs/api-reference/project-api-keys/listProjectApiKeys"),
    "anthropic": ("https://api.anthropic.com", "https://docs.anthropic.com/en/api/admin-api/apikeys/list-api-keys"),
}
RULE_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "gitlab": "gitlab"}
"""Credential provider family → admin listing that can name its keys."""


def parse_admin_tokens(values: tuple[str, ...] | list[str], env: Mapping[str, str]) -> dict[str, str]:
    """`--admin-token PROVIDER=ENV_NAME` → {provider: token read from the environment}."""
    out: dict[str, str] = {}
    for v in values:
        provider, sep, name = v.partition("=")
        provider = provider.strip().lower()
        if not sep or not name.strip():
            raise ConfigError(f"--admin-token: expected PROVIDER=ENV_NAME, got {v!r}")
        if provider not in ADMIN_PROVIDERS:
            raise ConfigError(f"--admin-token: no admin listing for {provider!r} "
                              f"(known: {', '.join(sorted(ADMIN_PROVIDERS))})")
        token = env.get(name.strip())
        if not token:
            raise ConfigError(f"--admin-token {provider}: ${name.strip()} is not set")
        out[provider] = token
    return out


def _time(v: Any) -> str | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return dt.datetime.fromtimestamp(v, dt.timezone.utc).isoformat()
    return str(v) if v else None


def _facts(**kw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in kw.items() if v not in (None, ""))


def _pages(client: Client, base: str, path: str, headers: Mapping[str, str], cursor: str) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated `{"data": [...], "has_more", "last_id"}` listing."""
    items: list[dict[str, Any]] = []
    after = None
    for _ in range(MAX_PAGES):
        sep = "&" if "?" in path else "?"
        r = client.send(base, "GET", path + (f"{sep}{cursor}={quote(after)}" if after else ""), headers=headers)
        if r.status != 200:
            raise Unverifiable(f"GET {path} at {r.host}: HTTP {r.status}")
        page = r.json()
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise Unverifiable(f"GET {path} at {r.host}: no data list")
        items += [d for d in data if isinstance(d, dict)]
        after = page.get("last_id")
        if not page.get("has_more") or not after:
            return items
    raise Unverifiable(f"GET {path}: more than {MAX_PAGES} pages")


def openai_keys(client: Client, base: str, token: str) -> list[Listed]:
    h = {"Authorization": f"Bearer {token}"}
    out = []
    for k in _pages(client, base, "/v1/organization/admin_api_keys?limit=100", h, "after"):
        owner = k.get("owner") or {}
        out.append(Listed("openai", str(k.get("redacted_value", "")), _facts(
            key_id=k.get("id"), key_name=k.get("name"), owner=owner.get("name"), owner_id=owner.get("id"),
            owner_kind="user" if owner.get("type") == "user" else owner.get("type"), project="(organization admin)",
            created_at=_time(k.get("created_at")))))
    for p in _pages(client, base, "/v1/organization/projects?limit=100", h, "after"):
        pid = str(p.get("id", ""))
        if not pid:
            continue
        for k in _pages(client, base, f"/v1/organization/projects/{quote(pid)}/api_keys?limit=100", h, "after"):
            owner = k.get("owner") or {}
            kind = owner.get("type")
            who = owner.get("user") if kind == "user" else owner.get("service_account")
            who = who if isinstance(who, dict) else {}
            out.append(Listed("openai", str(k.get("redacted_value", "")), _facts(
                key_id=k.get("id"), key_name=k.get("name"), owner=who.get("email") or who.get("name"),
                owner_id=who.get("id"), owner_kind="service-account" if kind == "service_account" else kind,
                project=p.get("name") or pid, created_at=_time(k.get("created_at")))))
    return out


def anthropic_keys(client: Client, base: str, token: str) -> list[Listed]:
    h = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    out = []
    for k in _pages(client, base, "/v1/organizations/api_keys?limit=1000", h, "after_id"):
        by = k.get("created_by") or {}
        out.append(Listed("anthropic", str(k.get("partial_key_hint", "")), _facts(
            key_id=k.get("id"), key_name=k.get("name"), owner_id=by.get("id"), owner_kind=by.get("type"),
            project=k.get("workspace_id") or "(default workspace)", created_at=_time(k.get("created_at")),
            status=k.get("status"))))
    return out


LISTERS = {"openai": openai_keys, "anthropic": anthropic_keys}


def hint_matches(hint: str, secret: str) -> bool:
    """`sk-abc...xyz` (or with `…`) against a plaintext: same prefix and suffix, long enough."""
    for sep in ("...", "…", "*"):
        if sep in hint:
            head, _, tail = hint.partition(sep)
            tail = tail.lstrip(sep[0]) if sep == "*" else tail
            return bool(head) and len(secret) > len(head) + len(tail) and secret.startswith(head) \
                and secret.endswith(tail)
    return False


def gitlab_owners(client: Client, base: str, token: str, verified: Mapping[str, Verification],
                  secrets: Mapping[str, tuple[str, str]]) -> dict[str, tuple[tuple[str, str], ...]]:
    """GitLab project and group access tokens belong to a bot user that is a member of exactly
    that project or group: the admin membership listing of each bot the verifier named gives it."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for fp, v in sorted(verified.items()):
        if secrets.get(fp, ("",))[0] != "gitlab" or v.status != "valid" or not v.identity \
                or v.identity.kind != "bot" or not v.identity.id:
            continue
        path = f"/api/v4/users/{quote(v.identity.id)}/memberships"
        r = client.send(base, "GET", path, headers={"PRIVATE-TOKEN": token})
        if r.status != 200:
            raise Unverifiable(f"GET {path} at {r.host}: HTTP {r.status}")
        rows = [m for m in r.json() if isinstance(m, dict)] if isinstance(r.json(), list) else []
        if len(rows) == 1:  # a project/group access token's bot has exactly one membership
            m = rows[0]
            kind = "project" if m.get("source_type") == "Project" else "org"
            out[fp] = _facts(owner=m.get("source_name"), owner_id=f"{m.get('source_type')}/{m.get('source_id')}",
                             owner_kind=kind, project=m.get("source_name"))
    return out


def admin_facts(secrets: Mapping[str, tuple[str, str]], options: VerifyOptions,
                admin: Mapping[str, str], verified: Mapping[str, Verification] | None = None,
                ) -> tuple[dict[str, tuple[tuple[str, str], ...]], list[str]]:
    """fingerprint → listing facts for every credential a listing names uniquely; and one-line
    errors for listings that could not be read. `secrets`: fingerprint → (provider, plaintext)."""
    facts: dict[str, tuple[tuple[str, str], ...]] = {}
    errors: list[str] = []
    client = Client(options)
    try:
        for provider, token in sorted(admin.items()):
            base = options.endpoints.get(provider) or ADMIN_PROVIDERS[provider][0]
            if provider == "gitlab":
                try:
                    for fp, found in gitlab_owners(client, check_base(base, "gitlab admin listing"), token,
                                                   verified or {}, secrets).items():
                        facts[fp] = found + (("listing", "gitlab"),)
                except Unverifiable as exc:
                    errors.append(f"gitlab admin listing not read: {exc}")
                continue
            try:
                listed = LISTERS[provider](client, check_base(base, f"{provider} admin listing"), token)
            except Unverifiable as exc:
                errors.append(f"{provider} admin listing not read: {exc}")
                continue
            mine = {fp: s for fp, (p, s) in secrets.items() if RULE_PROVIDERS.get(p) == provider}
            for item in listed:
                hits = [fp for fp, s in mine.items() if hint_matches(item.hint, s)]
                if len(hits) != 1:
                    continue
                if sum(hint_matches(o.hint, mine[hits[0]]) for o in listed) == 1:
                    facts[hits[0]] = item.facts + (("listing", provider),)
    finally:
        client.close()
    return facts, errors
