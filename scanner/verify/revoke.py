"""Revocation (`sprawlscan revoke FINGERPRINT --yes`): for providers that document a call by
which a credential revokes itself (GitHub's credential revocation API, Slack `auth.revoke`, GitLab
`DELETE personal_access_tokens/self`), send it through the same pinned client as verification.
The plaintext comes from a rescan of the credential's locations (see `pipeline.plaintext_of`),
never from storage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from scanner.verify.base import Client, Unverifiable, VerifyOptions, check_base


@dataclass(frozen=True, slots=True)
class Revoker:
    provider: str
    """The `--verify-endpoint` key whose base it uses."""
    base: str
    rules: tuple[str, ...]
    method: str
    path: str
    docs: str


REVOKERS: tuple[Revoker, ...] = (
    Revoker("github", "https://api.github.com",
            ("github.pat", "github.fine-grained-pat", "github.oauth", "github.user-to-server"),
            "POST", "/credentials/revoke",
            "https://docs.github.com/en/rest/credentials/revoke#revoke-a-list-of-credentials"),
    Revoker("slack", "https://slack.com/api", ("slack.bot", "slack.user"), "POST", "/auth.revoke",
            "https://api.slack.com/methods/auth.revoke"),
    Revoker("gitlab", "https://gitlab.com", ("gitlab.pat", "gitlab.pat-routable"), "DELETE",
            "/api/v4/personal_access_tokens/self",
            "https://docs.gitlab.com/api/personal_access_tokens/#revoke-a-personal-access-token"),
)
BY_RULE: dict[str, Revoker] = {r: rv for rv in REVOKERS for r in rv.rules}


@dataclass(frozen=True, slots=True)
class Revocation:
    revoked: bool
    detail: str
    provider: str


def revoke(rule_id: str, secret: str, endpoints: Mapping[str, str], extra: Mapping[str, str],
           timeout: float = 10.0) -> Revocation:
    """Ask the provider to revoke the credential; `revoked` only when it says it did."""
    rv = BY_RULE[rule_id]
    forge = {"github": "github_url", "gitlab": "gitlab_url"}.get(rv.provider)
    base = endpoints.get(rv.provider) or (check_base(extra[forge], f"--{forge.replace('_', '-')}")
                                          if forge and extra.get(forge) else rv.base)
    client = Client(VerifyOptions(timeout=timeout))
    where = f"{rv.method} {rv.path}"
    try:
        if rv.provider == "github":
            r = client.send(base, "POST", rv.path, data=json.dumps({"credentials": [secret]}),
                            headers={"Accept": "application/vnd.github+json",
                                     "Content-Type": "application/json",
                                     "X-GitHub-Api-Version": "2022-11-28"})
            ok = r.status == 202
        elif rv.provider == "slack":
            r = client.send(base, "POST", rv.path, headers={"Authorization": f"Bearer {secret}"})
            body = r.json() if r.status == 200 else {}
            ok = isinstance(body, dict) and body.get("ok") is True and body.get("revoked") is True
            if r.status == 200 and not ok and isinstance(body, dict):
                return Revocation(False, f"{where} at {r.host}: {body.get('error', 'not revoked')}", rv.provider)
        else:
            r = client.send(base, "DELETE", rv.path, headers={"PRIVATE-TOKEN": secret})
            ok = r.status == 204
    except Unverifiable as exc:
        return Revocation(False, f"{where}: {exc}", rv.provider)
    finally:
        client.close()
    return Revocation(ok, f"{where} at {r.host}: HTTP {r.status}" + ("" if ok else " (not revoked)"),
                      rv.provider)
