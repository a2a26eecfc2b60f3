"""Verification stage, the table: one `Spec` per provider (its documented API base, the cheapest
read-only call that proves a credential works, how the credential is sent, where the call is
documented, and how to read the answer's identity), and the generic HTTP verifier that runs a
spec. Providers whose answer needs more than a status and a few JSON fields (GitHub, GitLab,
Slack, AWS SigV4, Vault, Atlassian) are in `special.py`; both meet in `registry.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.verify.base import Client, Identity, Reply, Unverifiable, Verification, now_iso

Kind = tuple[str, bool | None]


@dataclass(frozen=True, slots=True)
class Who:
    """Where the identity sits in a 200 answer (dotted JSON paths)."""

    id: str = ""
    name: str = ""
    kind_at: str = ""
    """Path of a field whose value names the kind (`type`), mapped by `kinds`."""
    kinds: tuple[tuple[str, str, bool | None], ...] = ()
    """(value, kind, human) for `kind_at`."""
    kind: Kind = ("unknown", None)
    """The kind when the answer has no kind field."""
    expires_at: str = ""
    scopes_at: str = ""


@dataclass(frozen=True, slots=True)
class Spec:
    """One provider's verification call, as data."""

    provider: str
    """The key of `--verify-endpoint PROVIDER=URL` and of `rules list --verifiers`."""
    rules: tuple[str, ...]
    """Rule ids it verifies."""
    base: str | None
    """Documented API base; None: the host is the customer's (give `--verify-endpoint`)."""
    method: str
    path: str
    auth: str
    """`bearer`, `token` (`Authorization: token X`), `raw` (`Authorization: X`), `header:NAME`,
    `basic-user` (the key as Basic user, empty password), `basic-api` (user `api`)."""
    docs: str
    """Where the call is documented."""
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    who: Who | None = None
    invalid: tuple[int, ...] = (401, 403)
    """HTTP statuses that mean the provider rejected the credential."""
    valid_at: str = ""
    """A boolean field of a 200 answer that must be true (else: invalid)."""
    rule_kinds: tuple[tuple[str, str, bool | None], ...] = ()
    """(rule id, kind, human) the key format itself states (`lsv2_pt` is a personal token)."""

    def call(self) -> str:
        return f"{self.method} {self.path}"


def dig(data: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def auth_headers(spec: Spec, secret: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    headers = dict(spec.headers)
    auth = None
    if spec.auth == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif spec.auth == "token":
        headers["Authorization"] = f"token {secret}"
    elif spec.auth == "raw":
        headers["Authorization"] = secret
    elif spec.auth.startswith("header:"):
        headers[spec.auth.removeprefix("header:")] = secret
    elif spec.auth == "basic-user":
        auth = (secret, "")
    elif spec.auth == "basic-api":
        auth = ("api", secret)
    else:  # pragma: no cover - the registry test checks every spec's auth
        raise ValueError(spec.auth)
    return headers, auth


def _identity(spec: Spec, rule_id: str, data: Any) -> Identity | None:
    fixed = {r: (k, h) for r, k, h in spec.rule_kinds}.get(rule_id)
    who = spec.who
    if who is None:
        return Identity(None, None, *fixed) if fixed else None
    kind, human = fixed or who.kind
    if who.kind_at:
        value = str(dig(data, who.kind_at) or "").lower()
        for v, k, h in who.kinds:
            if value == v:
                kind, human = k, h
    ident, name = dig(data, who.id), dig(data, who.name)
    if ident is None and name is None and kind == "unknown":
        return None
    return Identity(None if ident is None else str(ident), None if name is None else str(name), kind, human)


def read_answer(spec: Spec, rule_id: str, reply: Reply) -> Verification:
    """A provider's HTTP answer → status, identity, scopes, expiry."""
    at = now_iso()
    where = f"{spec.call()} at {reply.host}"
    if reply.status in spec.invalid:
        return Verification("invalid", at, detail=f"{where}: HTTP {reply.status} (rejected)",
                            verifier=spec.provider)
    if not 200 <= reply.status < 300:
        return Verification("error", at, detail=f"{where}: HTTP {reply.status}", verifier=spec.provider)
    data: Any = reply.json() if (spec.who or spec.valid_at) else None
    if spec.valid_at and dig(data, spec.valid_at) is not True:
        return Verification("invalid", at, detail=f"{where}: {spec.valid_at} is not true",
                            verifier=spec.provider)
    scopes: tuple[str, ...] = ()
    expires = None
    if spec.who:
        raw = dig(data, spec.who.scopes_at) if spec.who.scopes_at else None
        scopes = tuple(str(s) for s in raw) if isinstance(raw, list) else ()
        exp = dig(data, spec.who.expires_at) if spec.who.expires_at else None
        expires = str(exp) if exp else None
    return Verification("valid", at, _identity(spec, rule_id, data), scopes, expires,
                        f"{where}: HTTP {reply.status}", spec.provider)


def run_spec(spec: Spec, client: Client, base: str, rule_id: str, secret: str,
             captures: Mapping[str, str]) -> Verification:
    headers, auth = auth_headers(spec, secret)
    try:
        reply = client.send(base, spec.method, spec.path, headers=headers, data=spec.body, auth=auth)
        return read_answer(spec, rule_id, reply)
    except Unverifiable as exc:
        return Verification("error", now_iso(), detail=f"{spec.call()}: {exc}", verifier=spec.provider)


JSON = (("Accept", "application/json"),)
MODELS = "GET /v1/models"

SPECS: tuple[Spec, ...] = (
    Spec("openai", ("openai.project", "openai.service-account", "openai.legacy"),
         "https://api.openai.com", "GET", "/v1/models", "bearer",
         "https://platform.openai.com/docs/api-reference/models/list",
         rule_kinds=(("openai.service-account", "service-account", False),)),
    Spec("openai-admin", ("openai.admin",), "https://api.openai.com", "GET",
         "/v1/organization/admin_api_keys?limit=1", "bearer",
         "https://platform.openai.com/docs/api-reference/admin-api-keys/list",
         rule_kinds=(("openai.admin", "org", None),)),
    Spec("anthropic", ("anthropic.api",), "https://api.anthropic.com", "GET", "/v1/models?limit=1",
         "header:x-api-key", "https://docs.anthropic.com/en/api/models-list",
         headers=(("anthropic-version", "2023-06-01"),)),
    Spec("anthropic-admin", ("anthropic.admin",), "https://api.anthropic.com", "GET",
         "/v1/organizations/me", "header:x-api-key",
         "https://docs.anthropic.com/en/api/admin-api/organization/get-me",
         headers=(("anthropic-version", "2023-06-01"),),
         who=Who(id="id", name="name", kind=("org", False))),
    Spec("gemini", ("google.gemini-auth-key", "google.api-key"),
         "https://generativelanguage.googleapis.com", "GET", "/v1beta/models?pageSize=1",
         "header:x-goog-api-key", "https://ai.google.dev/api/models#method:-models.list",
         invalid=(400, 401)),
    Spec("huggingface", ("huggingface.user", "huggingface.org"), "https://huggingface.co", "GET",
         "/api/whoami-v2", "bearer", "https://huggingface.co/docs/hub/api#get-apiwhoami-v2",
         who=Who(id="id", name="name", kind_at="type",
                 kinds=(("user", "user", True), ("org", "org", False)),
                 scopes_at="auth.accessToken.fineGrained.scoped")),
    Spec("groq", ("groq.api-key",), "https://api.groq.com", "GET", "/openai/v1/models", "bearer",
         "https://console.groq.com/docs/api-reference#models-list"),
    Spec("mistral", ("mistral.api-key",), "https://api.mistral.ai", "GET", "/v1/models", "bearer",
         "https://docs.mistral.ai/api/#tag/models/operation/list_models_v1_models_get"),
    Spec("cohere", ("cohere.api-key",), "https://api.cohere.com", "POST", "/v1/check-api-key", "bearer",
         "https://docs.cohere.com/reference/checkapikey", headers=JSON, valid_at="valid",
         who=Who(id="owner_id", name="organization_id", kind=("unknown", None))),
    Spec("replicate", ("replicate.api-token",), "https://api.replicate.com", "GET", "/v1/account",
         "bearer", "https://replicate.com/docs/reference/http#accounts.get",
         who=Who(id="username", name="name", kind_at="type",
                 kinds=(("user", "user", True), ("organization", "org", False)))),
    Spec("openrouter", ("openrouter.api-key",), "https://openrouter.ai", "GET", "/api/v1/key", "bearer",
         "https://openrouter.ai/docs/api/api-reference/api-keys/get-current-key",
         who=Who(id="data.creator_user_id", name="data.label", expires_at="data.expires_at")),
    Spec("pinecone", ("pinecone.api-key", "pinecone.legacy-key"), "https://api.pinecone.io", "GET",
         "/indexes", "header:Api-Key", "https://docs.pinecone.io/reference/api/2025-01/control-plane/list_indexes",
         headers=(("X-Pinecone-API-Version", "2025-01"),), rule_kinds=()),
    Spec("langsmith", ("langsmith.personal", "langsmith.service"), "https://api.smith.langchain.com",
         "GET", "/api/v1/workspaces", "header:x-api-key",
         "https://docs.langchain.com/langsmith/manage-organization-by-api",
         rule_kinds=(("langsmith.personal", "user", True), ("langsmith.service", "service-account", False))),
    Spec("wandb", ("wandb.api-key", "wandb.legacy-key"), "https://api.wandb.ai", "POST", "/graphql",
         "basic-api", "https://docs.wandb.ai/guides/hosting/iam/authentication/",
         headers=(("Content-Type", "application/json"),),
         body='{"query": "query { viewer { id username accountType } }"}',
         who=Who(id="data.viewer.id", name="data.viewer.username", kind_at="data.viewer.accountType",
                 kinds=(("user", "user", True), ("service", "service-account", False)))),
    Spec("tavily", ("tavily.api-key",), "https://api.tavily.com", "GET", "/usage", "bearer",
         "https://docs.tavily.com/documentation/api-reference/endpoint/usage"),
    Spec("npm", ("npm.access-token",), "https://registry.npmjs.org", "GET", "/-/whoami", "bearer",
         "https://docs.npmjs.com/cli/v10/commands/npm-whoami",
         who=Who(name="username", kind=("user", None))),
    Spec("deepseek", ("deepseek.api-key",), "https://api.deepseek.com", "GET", "/user/balance", "bearer",
         "https://api-docs.deepseek.com/api/get-user-balance"),
    Spec("xai", ("xai.api-key",), "https://api.x.ai", "GET", "/v1/api-key", "bearer",
         "https://docs.x.ai/docs/api-reference#get-api-key-info",
         who=Who(id="user_id", name="name", kind=("unknown", None), scopes_at="acls")),
    Spec("together", ("together.api-key",), "https://api.together.xyz", "GET", "/v1/models", "bearer",
         "https://docs.together.ai/reference/models-1"),
    Spec("fireworks", ("fireworks.api-key",), "https://api.fireworks.ai", "GET",
         "/inference/v1/models", "bearer", "https://docs.fireworks.ai/api-reference/list-models"),
    Spec("elevenlabs", ("elevenlabs.api-key", "elevenlabs.legacy-key"), "https://api.elevenlabs.io",
         "GET", "/v1/user", "header:xi-api-key", "https://elevenlabs.io/docs/api-reference/user/get",
         who=Who(id="user_id", name="first_name", kind=("user", True))),
    Spec("assemblyai", ("assemblyai.api-key",), "https://api.assemblyai.com", "GET",
         "/v2/transcript?limit=1", "raw", "https://www.assemblyai.com/docs/api-reference/transcripts/list"),
    Spec("deepgram", ("deepgram.api-key",), "https://api.deepgram.com", "GET", "/v1/projects", "token",
         "https://developers.deepgram.com/reference/management-api/projects/list"),
    Spec("cerebras", ("cerebras.api-key",), "https://api.cerebras.ai", "GET", "/v1/models", "bearer",
         "https://inference-docs.cerebras.ai/api-reference/models"),
    Spec("stability", ("stability.api-key",), "https://api.stability.ai", "GET", "/v1/user/account",
         "bearer", "https://platform.stability.ai/docs/api-reference#tag/User/operation/userAccount",
         who=Who(id="id", name="email", kind=("user", True))),
    Spec("firecrawl", ("firecrawl.api-key",), "https://api.firecrawl.dev", "GET",
         "/v1/team/credit-usage", "bearer",
         "https://docs.firecrawl.dev/api-reference/endpoint/credit-usage"),
    Spec("sourcegraph", ("sourcegraph.access-token",), "https://sourcegraph.com", "POST",
         "/.api/graphql", "token", "https://sourcegraph.com/docs/api/graphql",
         headers=(("Content-Type", "application/json"),),
         body='{"query": "query { currentUser { id username } }"}',
         who=Who(id="data.currentUser.id", name="data.currentUser.username", kind=("user", None))),
    Spec("databricks", ("databricks.token",), None, "GET", "/api/2.0/preview/scim/v2/Me", "bearer",
         "https://docs.databricks.com/api/workspace/currentuser/me",
         who=Who(id="id", name="userName", kind=("user", None))),
    Spec("cursor", ("cursor.api-key",), "https://api.cursor.com", "GET", "/v0/me", "basic-user",
         "https://docs.cursor.com/en/background-agent/api/me",
         who=Who(id="userEmail", name="apiKeyName", kind=("user", True))),
    Spec("devin", ("devin.api-key", "devin.service-user"), "https://api.devin.ai", "GET",
         "/v1/sessions?limit=1", "bearer", "https://docs.devin.ai/api-reference/sessions/list-sessions",
         rule_kinds=(("devin.service-user", "service-account", False),)),
    Spec("runpod", ("runpod.api-key",), "https://rest.runpod.io", "GET", "/v1/pods", "bearer",
         "https://docs.runpod.io/api-reference/pods/GET/pods"),
    Spec("perplexity", ("perplexity.api-key",), "https://api.perplexity.ai", "GET", "/async/chat/completions",
         "bearer", "https://docs.perplexity.ai/api-reference/async-chat-completions-get"),
)
"""The generic verifiers (see `special.py` for the rest). Each call is read-only and the cheapest
the provider documents: a model, account or key listing of one item."""
