"""Verification stage, the verifiers that read more than a status: GitHub (`GET /user` or
`/installation/repositories`, scopes from `X-OAuth-Scopes`, expiry from
`github-authentication-token-expiration`), GitLab (`personal_access_tokens/self` then `/user`,
`bot: true` marks service accounts and project/group tokens; runner tokens through
`runners/verify`), Slack (`auth.test`: `ok`, `bot_id`), AWS (STS `GetCallerIdentity` signed with
SigV4, implemented here with hashlib/hmac), Vault (`auth/token/lookup-self`) and Atlassian
(`/rest/api/3/myself`, Basic with the account e-mail from the environment)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from scanner.verify.base import Client, Identity, Reply, Unverifiable, Verification, now_iso

Verifier = Callable[[Client, str, str, str, Mapping[str, str]], Verification]


@dataclass(frozen=True, slots=True)
class Special:
    """A verifier written as code, described like a `Spec` for `rules list --verifiers`."""

    provider: str
    rules: tuple[str, ...]
    base: str | None
    calls: str
    docs: str
    run: Verifier


def _v(status: str, provider: str, detail: str, identity: Identity | None = None,
       scopes: tuple[str, ...] = (), expires: str | None = None) -> Verification:
    return Verification(status, now_iso(), identity, scopes, expires, detail, provider)


def _obj(reply: Reply) -> dict[str, Any]:
    data = reply.json()
    if not isinstance(data, dict):
        raise Unverifiable(f"{reply.host}: HTTP {reply.status} with an answer that is not an object")
    return data


# -- GitHub ------------------------------------------------------------------------------------
def github_expiry(value: str | None) -> str | None:
    """`github-authentication-token-expiration: 2026-03-01 12:00:00 UTC` (or +0000) → ISO."""
    if not value:
        return None
    v = value.strip().replace(" UTC", " +0000")
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S"):
        try:
            t = dt.datetime.strptime(v, fmt)
        except ValueError:
            continue
        return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()
    return None


def github(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    install = rule_id.startswith("github.installation")
    path = "/installation/repositories?per_page=1" if install else "/user"
    try:
        r = client.send(base, "GET", path, headers={
            "Authorization": f"Bearer {secret}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"})
        where = f"GET {path} at {r.host}"
        if r.status == 401:
            return _v("invalid", "github", f"{where}: HTTP 401 (bad credentials)")
        if r.status == 403 and r.headers.get("x-ratelimit-remaining") == "0":
            return _v("error", "github", f"{where}: rate limited")
        if r.status != 200:
            return _v("error", "github", f"{where}: HTTP {r.status}")
        scopes = tuple(s.strip() for s in (r.headers.get("X-OAuth-Scopes") or "").split(",") if s.strip())
        expires = github_expiry(r.headers.get("github-authentication-token-expiration"))
        data = _obj(r)
        if install:
            ident = Identity(None, None, "app", False)
            return _v("valid", "github", f"{where}: {data.get('total_count', '?')} repositories",
                      ident, scopes, expires)
        bot = str(data.get("type", "")).lower() == "bot"
        ident = Identity(str(data.get("id")) if data.get("id") is not None else None, data.get("login"),
                         "bot" if bot else "user", not bot)
        return _v("valid", "github", f"{where}: HTTP 200", ident, scopes, expires)
    except Unverifiable as exc:
        return _v("error", "github", f"GET {path}: {exc}")


# -- GitLab ------------------------------------------------------------------------------------
def gitlab(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    headers = {"PRIVATE-TOKEN": secret}
    path = "/api/v4/personal_access_tokens/self"
    try:
        r = client.send(base, "GET", path, headers=headers)
        where = f"GET {path} at {r.host}"
        if r.status == 401:
            return _v("invalid", "gitlab", f"{where}: HTTP 401 (revoked, expired or unknown)")
        if r.status != 200:
            return _v("error", "gitlab", f"{where}: HTTP {r.status}")
        tok = _obj(r)
        scopes = tuple(str(s) for s in tok.get("scopes") or ())
        expires = f"{tok['expires_at']}T00:00:00+00:00" if isinstance(tok.get("expires_at"), str) and \
            len(tok["expires_at"]) == 10 else tok.get("expires_at")
        if tok.get("revoked") is True or tok.get("active") is False:
            return _v("invalid", "gitlab", f"{where}: token {'revoked' if tok.get('revoked') else 'inactive'}",
                      scopes=scopes, expires=expires)
        u = client.send(base, "GET", "/api/v4/user", headers=headers)
        if u.status != 200:
            ident = Identity(str(tok.get("user_id")) if tok.get("user_id") is not None else None, None)
            return _v("valid", "gitlab", f"{where}: valid; GET /api/v4/user: HTTP {u.status}", ident,
                      scopes, expires)
        user = _obj(u)
        bot = user.get("bot") is True
        ident = Identity(str(user.get("id")) if user.get("id") is not None else None, user.get("username"),
                         "bot" if bot else "user", not bot)
        own = tuple((k, str(tok[f])) for k, f in (("key_id", "id"), ("key_name", "name"),
                                                   ("created_at", "created_at")) if tok.get(f) is not None)
        return replace(_v("valid", "gitlab", f"{where}: token {tok.get('name', '?')!s} of {user.get('username')}",
                          ident, scopes, expires), listing=own + (("listing", "gitlab"),))
    except Unverifiable as exc:
        return _v("error", "gitlab", f"GET {path}: {exc}")


def gitlab_runner(client: Client, base: str, rule_id: str, secret: str,
                  captures: Mapping[str, str]) -> Verification:
    path = "/api/v4/runners/verify"
    try:
        r = client.send(base, "POST", path, data={"token": secret})  # type: ignore[arg-type]
        where = f"POST {path} at {r.host}"
        if r.status == 403:
            return _v("invalid", "gitlab-runner", f"{where}: HTTP 403 (unknown runner token)")
        if r.status != 200:
            return _v("error", "gitlab-runner", f"{where}: HTTP {r.status}")
        data = _obj(r)
        exp = data.get("token_expires_at")
        return _v("valid", "gitlab-runner", f"{where}: runner {data.get('id', '?')}",
                  Identity(str(data.get("id")) if data.get("id") is not None else None, None, "bot", False),
                  expires=str(exp) if exp else None)
    except Unverifiable as exc:
        return _v("error", "gitlab-runner", f"POST {path}: {exc}")


# -- Slack -------------------------------------------------------------------------------------
SLACK_INVALID = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed",
                           "token_expired", "ekm_access_denied"})


def slack(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    try:
        r = client.send(base, "POST", "/auth.test", headers={"Authorization": f"Bearer {secret}"})
        where = f"POST /auth.test at {r.host}"
        if r.status != 200:
            return _v("error", "slack", f"{where}: HTTP {r.status}")
        data = _obj(r)
        scopes = tuple(s.strip() for s in (r.headers.get("x-oauth-scopes") or "").split(",") if s.strip())
        if data.get("ok") is not True:
            err = str(data.get("error", "?"))
            return _v("invalid" if err in SLACK_INVALID else "error", "slack", f"{where}: {err}")
        bot = bool(data.get("bot_id"))
        ident = Identity(str(data.get("bot_id") if bot else data.get("user_id")), data.get("user"),
                         "bot" if bot else "user", not bot)
        return _v("valid", "slack", f"{where}: ok (team {data.get('team', '?')})", ident, scopes)
    except Unverifiable as exc:
        return _v("error", "slack", f"POST /auth.test: {exc}")


# -- AWS ---------------------------------------------------------------------------------------
def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, url: str, body: bytes, key_id: str, secret: str, region: str,
                  service: str, headers: Mapping[str, str], when: dt.datetime) -> dict[str, str]:
    """AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
    for a request without a query string: the headers to send, `Authorization` included."""
    parts = urlsplit(url)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(v.split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    names = ";".join(sorted(signed))
    canonical = "\n".join([method, parts.path or "/", parts.query,
                           "".join(f"{k}:{signed[k]}\n" for k in sorted(signed)), names,
                           hashlib.sha256(body).hexdigest()])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in headers.items()}
    out["X-Amz-Date"] = amz_date
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={names}, "
                            f"Signature={signature}")
    return out


STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def aws(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    key_id = captures.get("key_id")
    if not key_id:
        return _v("unknown", "aws", "no access key id next to the secret: nothing to sign with")
    if key_id.startswith("ASIA"):
        return _v("unknown", "aws", "temporary key: its session token was not found next to it")
    headers = sigv4_headers("POST", base + "/", STS_BODY, key_id, secret, "us-east-1", "sts",
                            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                            dt.datetime.now(dt.timezone.utc))
    try:
        r = client.send(base, "POST", "/", headers=headers, data=STS_BODY)
        where = f"POST sts:GetCallerIdentity at {r.host}"
        text = r.text()
        if r.status == 403 or "InvalidClientTokenId" in text:
            code = re.search(r"<Code>([^<]+)</Code>", text)
            return _v("invalid", "aws", f"{where}: HTTP {r.status} {code.group(1) if code else ''}".rstrip())
        if r.status != 200:
            return _v("error", "aws", f"{where}: HTTP {r.status}")
        arn = re.search(r"<Arn>([^<]+)</Arn>", text)
        account = re.search(r"<Account>([^<]+)</Account>", text)
        if not arn:
            return _v("error", "aws", f"{where}: HTTP 200 without an Arn")
        a = arn.group(1)
        kind, human = ("service-account", False) if ":assumed-role/" in a else \
            ("user", None) if ":user/" in a else ("org", None) if a.endswith(":root") else ("unknown", None)
        return _v("valid", "aws", f"{where}: account {account.group(1) if account else '?'}",
                  Identity(a, a.rsplit("/", 1)[-1], kind, human))
    except Unverifiable as exc:
        return _v("error", "aws", f"POST sts:GetCallerIdentity: {exc}")


# -- Vault -------------------------------------------------------------------------------------
def vault(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    path = "/v1/auth/token/lookup-self"
    try:
        r = client.send(base, "GET", path, headers={"X-Vault-Token": secret})
        where = f"GET {path} at {r.host}"
        if r.status in (401, 403):
            return _v("invalid", "vault", f"{where}: HTTP {r.status} (permission denied)")
        if r.status != 200:
            return _v("error", "vault", f"{where}: HTTP {r.status}")
        data = _obj(r).get("data") or {}
        ident = Identity(data.get("entity_id") or data.get("accessor"), data.get("display_name"),
                         "service-account" if data.get("entity_id") else "unknown", None)
        exp = data.get("expire_time")
        return _v("valid", "vault", f"{where}: {data.get('type', 'token')} token", ident,
                  tuple(str(p) for p in data.get("policies") or ()), str(exp) if exp else None)
    except Unverifiable as exc:
        return _v("error", "vault", f"GET {path}: {exc}")


# -- Atlassian ---------------------------------------------------------------------------------
ATLASSIAN_USER_ENV = ("ATLASSIAN_USER", "JIRA_USER", "CONFLUENCE_USER")


def atlassian(client: Client, base: str, rule_id: str, secret: str, captures: Mapping[str, str]) -> Verification:
    user = next((os.environ[k] for k in ATLASSIAN_USER_ENV if os.environ.get(k)), None)
    if not user:
        return _v("unknown", "atlassian", "an Atlassian API token works only with its account's e-mail: "
                  f"set {ATLASSIAN_USER_ENV[0]}")
    path = "/rest/api/3/myself"
    try:
        r = client.send(base, "GET", path, auth=(user, secret), headers={"Accept": "application/json"})
        where = f"GET {path} at {r.host}"
        if r.status in (401, 403):
            return _v("invalid", "atlassian", f"{where}: HTTP {r.status}")
        if r.status != 200:
            return _v("error", "atlassian", f"{where}: HTTP {r.status}")
        data = _obj(r)
        app = data.get("accountType") == "app"
        return _v("valid", "atlassian", f"{where}: HTTP 200",
                  Identity(data.get("accountId"), data.get("displayName"), "app" if app else "user", not app))
    except Unverifiable as exc:
        return _v("error", "atlassian", f"GET {path}: {exc}")


SPECIALS: tuple[Special, ...] = (
    Special("github", ("github.pat", "github.fine-grained-pat", "github.oauth", "github.user-to-server",
                       "github.installation", "github.installation-long"), "https://api.github.com",
            "GET /user (GET /installation/repositories for ghs_)",
            "https://docs.github.com/en/rest/users/users#get-the-authenticated-user", github),
    Special("gitlab", ("gitlab.pat", "gitlab.pat-routable"), "https://gitlab.com",
            "GET /api/v4/personal_access_tokens/self, then GET /api/v4/user",
            "https://docs.gitlab.com/api/personal_access_tokens/#get-single-personal-access-token", gitlab),
    Special("gitlab-runner", ("gitlab.runner-token",), "https://gitlab.com", "POST /api/v4/runners/verify",
            "https://docs.gitlab.com/api/runners/#verify-authentication-for-a-registered-runner",
            gitlab_runner),
    Special("slack", ("slack.bot", "slack.user"), "https://slack.com/api", "POST /auth.test",
            "https://api.slack.com/methods/auth.test", slack),
    Special("aws", ("aws.access-key", "aws.sts-session"), "https://sts.amazonaws.com",
            "POST / Action=GetCallerIdentity (SigV4)",
            "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html", aws),
    Special("vault", ("vault.service-token", "vault.batch-token", "vault.legacy-token"), None,
            "GET /v1/auth/token/lookup-self",
            "https://developer.hashicorp.com/vault/api-docs/auth/token#lookup-a-token-self", vault),
    Special("atlassian", ("atlassian.api-token",), None, "GET /rest/api/3/myself",
            "https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/", atlassian),
)
