"""`--verify`: every verifier against a local HTTP server answering with its provider's documented
response shape, and the safety contract (pinned host, no redirects, https, timeouts, 429,
nothing sent without the flag, one request per credential, no plaintext in the datastore)."""

from __future__ import annotations

import base64
import json
import random
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scanner.cli import main
from scanner.pipeline import ScanOptions, run_scan
from scanner.verify import BY_RULE, ENDPOINT_KEYS, VERIFIERS, VerifyOptions
from scanner.verify.special import github_expiry
from tests.conftest import tokens

STS_OK = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/deploy-bot</Arn>
    <UserId>AIDACKCEVSQ6C2EXAMPLE</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"""

MODELS = {"object": "list", "data": [{"id": "m-1", "object": "model", "created": 1715367049,
                                      "owned_by": "system"}]}
DOCUMENTED: dict[str, Any] = {
    # path → the documented 200 answer (providers sharing a path share its shape)
    "/v1/models": MODELS,
    "/openai/v1/models": MODELS,
    "/inference/v1/models": MODELS,
    "/v1/organization/admin_api_keys": {"object": "list", "data": [], "has_more": False},
    "/v1/organizations/me": {"id": "9f1c0d1e-0000-4000-8000-000000000001", "type": "organization",
                             "name": "Acme"},
    "/v1beta/models": {"models": [{"name": "models/gemini-2.0-flash"}], "nextPageToken": "x"},
    "/api/whoami-v2": {"type": "user", "id": "6380d6f9a8b3", "name": "alice", "fullname": "Alice",
                       "auth": {"type": "access_token", "accessToken": {"displayName": "ci", "role": "read"}}},
    "/v1/check-api-key": {"valid": True, "organization_id": "org-1", "owner_id": "user-1"},
    "/v1/account": {"type": "organization", "username": "acme", "name": "Acme Corp",
                    "github_url": "https://github.com/acme"},
    "/api/v1/key": {"data": {"label": "sk-or-v1-au7...890", "creator_user_id": "user_2dHF",
                             "expires_at": "2027-12-31T23:59:59Z", "limit": 100, "usage": 25.5}},
    "/indexes": {"indexes": []},
    "/api/v1/workspaces": [{"id": "ws-1", "display_name": "Workspace 1"}],
    "/graphql": {"data": {"viewer": {"id": "VXNlcjox", "username": "ci-bot"}}},
    "/usage": {"key": {"usage": 150, "limit": 1000}, "account": {"current_plan": "Bootstrap"}},
    "/-/whoami": {"username": "alice"},
    "/user/balance": {"is_available": True, "balance_infos": []},
    "/v1/api-key": {"redacted_api_key": "xai-...b14o", "user_id": "59fbe5f2", "name": "My API Key",
                    "acls": ["api-key:model:*"], "api_key_blocked": False, "api_key_disabled": False},
    "/v1/user": {"user_id": "1234567890", "first_name": "John"},
    "/v2/transcript": {"page_details": {"limit": 1}, "transcripts": []},
    "/v1/projects": {"projects": []},
    "/v1/user/account": {"id": "user-1234", "email": "alice@example.com", "organizations": []},
    "/v1/team/credit-usage": {"success": True, "data": {"remaining_credits": 1000}},
    "/.api/graphql": {"data": {"currentUser": {"id": "VXNlcjox", "username": "alice"}}},
    "/api/2.0/preview/scim/v2/Me": {"id": "123", "userName": "alice@example.com", "active": True},
    "/v0/me": {"apiKeyName": "Production API Key", "createdAt": "2024-01-15T10:30:00Z",
               "userEmail": "developer@example.com"},
    "/v1/sessions": {"sessions": []},
    "/v1/pods": [],
    "/async/chat/completions": {"requests": []},
    "/user": {"login": "octocat", "id": 1, "type": "User"},
    "/installation/repositories": {"total_count": 1, "repositories": [{"full_name": "acme/x"}]},
    "/api/v4/personal_access_tokens/self": {"id": 4, "name": "ci", "revoked": False, "active": True,
                                            "scopes": ["api"], "user_id": 3, "expires_at": "2027-01-31",
                                            "created_at": "2026-01-05T10:00:00.000Z"},
    "/api/v4/user": {"id": 3, "username": "project_7_bot", "name": "CI bot", "bot": True},
    "/api/v4/runners/verify": {"id": 12, "token": "ignored", "token_expires_at": None},
    "/auth.test": {"ok": True, "url": "https://acme.slack.com/", "team": "Acme", "user": "triage-bot",
                   "team_id": "T123", "user_id": "U123", "bot_id": "B123"},
    "/v1/auth/token/lookup-self": {"data": {"accessor": "8609694a", "display_name": "approle",
                                            "entity_id": "7d2e3179", "expire_time": "2027-01-01T00:00:00Z",
                                            "policies": ["default", "agent"], "type": "service"}},
    "/rest/api/3/myself": {"accountId": "5b10a2844c20165700ede21g", "accountType": "atlassian",
                           "displayName": "Mia Krystof", "active": True},
}


class Recorder:
    """A local provider: answers every documented path, and remembers what reached it."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, Any] = {}
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, req: Request) -> Response:
        self.requests.append({"method": req.method, "path": req.path, "headers": dict(req.headers),
                              "body": req.get_data(as_text=True)})
        answer = self.answers.get(req.path)
        if isinstance(answer, Response):
            return answer
        if answer is not None:
            return answer(req)
        if req.path == "/":
            return Response(STS_OK, 200, content_type="text/xml")
        if req.path in DOCUMENTED:
            return Response(json.dumps(DOCUMENTED[req.path]), 200, content_type="application/json")
        return Response("{}", 404, content_type="application/json")

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def endpoints(self) -> dict[str, str]:
        return {k: self.url for k in ENDPOINT_KEYS}


def carried(req: dict[str, Any], secret: str) -> bool:
    """The secret is somewhere in what the request sent (header, Basic auth, body)."""
    blobs = [req["body"], *req["headers"].values()]
    for v in req["headers"].values():
        if v.startswith("Basic "):
            blobs.append(base64.b64decode(v[6:]).decode())
    return any(secret in b for b in blobs)


@pytest.fixture
def provider(httpserver: HTTPServer) -> Recorder:
    return Recorder(httpserver)


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test does, no request of the verifiers leaves 127.0.0.1."""
    import requests

    real = requests.Session.request

    def guarded(self: Any, method: str, url: str, *a: Any, **kw: Any) -> Any:
        assert url.startswith("http://127.0.0.1:") or url.startswith("http://localhost:"), url
        return real(self, method, url, *a, **kw)

    monkeypatch.setattr(requests.Session, "request", guarded)


def write_samples(root: Path, rule_ids: list[str], seed: str) -> dict[str, str]:
    """One .env file per rule with a synthetic credential; gives rule id → secret."""
    rng = random.Random(seed)
    out = {}
    for rid in rule_ids:
        sample = tokens.SAMPLES[rid](rng)
        (root / f"{rid}.env").write_text("".join(f"{k}={v}\n" for k, v in sample.assignments))
        out[rid] = sample.secret
    return out


def verify_dir(root: Path, endpoints: dict[str, str], **kw: Any) -> Any:
    return run_scan([str(root)], ScanOptions(history=False, verify=VerifyOptions(endpoints, **kw)))


# -- every verifier ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def every_verifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str], Recorder]:
    root = tmp_path_factory.mktemp("all")
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    rec = Recorder(server)
    rules = sorted(r for r in BY_RULE if r in tokens.SAMPLES)
    secrets = write_samples(root, rules, "every")
    mp = pytest.MonkeyPatch()
    mp.setenv("ATLASSIAN_USER", "mia@example.com")
    try:
        result = verify_dir(root, rec.endpoints())
    finally:
        mp.undo()
        server.stop()
    return result, secrets, rec


@pytest.mark.parametrize("name", sorted(VERIFIERS))
def test_every_verifier_reads_its_documented_answer(every_verifier, name):
    """Each verifier sends its credential to the configured endpoint, in its documented auth
    shape, and reads the documented 200 answer as `valid`."""
    result, secrets, rec = every_verifier
    entry = VERIFIERS[name]
    creds = [c for c in result.credentials if c.rule_id in entry.rules]
    assert creds, f"no sample of {entry.rules} was found"
    for cred in creds:
        v = result.verifications[cred.fingerprint]
        if cred.rule_id == "aws.sts-session":
            assert v.status == "unknown" and "session token" in v.detail
            continue
        assert v.status == "valid", (cred.rule_id, v)
        assert v.verifier == name and v.checked_at
        secret = next(s for r, s in secrets.items() if r == cred.rule_id)
        sent = [r for r in rec.requests if carried(r, secret)]
        if name == "aws":  # SigV4: the secret signs, it is never sent
            assert not sent
            assert any("AWS4-HMAC-SHA256 Credential=AKIA" in r["headers"].get("Authorization", "")
                       for r in rec.requests)
        else:
            assert sent, f"{cred.rule_id}: the credential never reached the provider"
            assert all(r["path"] + "?" in entry.calls + "?" or r["path"] in entry.calls for r in sent)


def test_there_are_at_least_thirty_providers_with_a_listed_base(every_verifier):
    """`rules list --verifiers` lists 30+ providers, each with its base or the endpoint it needs."""
    res = CliRunner().invoke(main, ["rules", "list", "--verifiers"])
    assert res.exit_code == 0
    rows = [line.split("\t") for line in res.output.splitlines()]
    assert len({VERIFIERS[r[0]].endpoint for r in rows}) >= 30
    bases = {r[0]: r[1] for r in rows}
    assert bases["github"] == "https://api.github.com" and bases["slack"] == "https://slack.com/api"
    assert bases["gitlab"] == "https://gitlab.com" and bases["huggingface"] == "https://huggingface.co"
    assert bases["openai"] == "https://api.openai.com" and bases["anthropic"] == "https://api.anthropic.com"
    assert "--verify-endpoint vault=URL" in bases["vault"]


def test_every_verified_rule_file_notes_its_call():
    """The rule file of each verified provider says which call verifies it and where it is documented."""
    from detectors.loader import load_rules

    files = {r.id: Path(r.source_file) for r in load_rules()}
    for entry in VERIFIERS.values():
        text = files[entry.rules[0]].read_text()
        assert f"# verify ({', '.join(entry.rules)}): {entry.calls}" in text
        assert entry.docs in text


def test_identities_come_from_the_answers(every_verifier):
    """Whose it is: GitHub user (human), GitLab bot (not human), Slack bot, Hugging Face user,
    Replicate organisation, AWS IAM user ARN, Vault policies and expiry."""
    result, _, _ = every_verifier
    by_rule = {c.rule_id: result.verifications[c.fingerprint] for c in result.credentials}
    gh = by_rule["github.pat"].identity
    assert (gh.name, gh.kind, gh.human) == ("octocat", "user", True)
    gl = by_rule["gitlab.pat"]
    assert (gl.identity.name, gl.identity.kind, gl.identity.human) == ("project_7_bot", "bot", False)
    assert gl.scopes == ("api",) and gl.expires_at == "2027-01-31T00:00:00+00:00"
    sl = by_rule["slack.bot"].identity
    assert (sl.id, sl.kind, sl.human) == ("B123", "bot", False)
    assert by_rule["huggingface.user"].identity.human is True
    assert by_rule["replicate.api-token"].identity.kind == "org"
    aws = by_rule["aws.access-key"].identity
    assert aws.id == "arn:aws:iam::123456789012:user/deploy-bot" and aws.name == "deploy-bot"
    assert by_rule["vault.service-token"].scopes == ("default", "agent")
    assert by_rule["vault.service-token"].expires_at == "2027-01-01T00:00:00Z"
    assert by_rule["openrouter.api-key"].expires_at == "2027-12-31T23:59:59Z"
    assert by_rule["langsmith.service"].identity.kind == "service-account"
    assert by_rule["github.installation"].identity.kind == "app"


# -- the states ---------------------------------------------------------------------------------
def one(tmp_path: Path, rule: str, provider: Recorder, **kw: Any) -> tuple[Any, str]:
    secret = write_samples(tmp_path, [rule], rule)[rule]
    result = verify_dir(tmp_path, provider.endpoints(), **kw)
    (cred,) = [c for c in result.credentials if c.rule_id == rule]
    return result.verifications[cred.fingerprint], secret


def test_github_scopes_and_expiry_from_headers(tmp_path, provider):
    """GitHub: scopes from `X-OAuth-Scopes`, expiry from `github-authentication-token-expiration`."""
    provider.answers["/user"] = Response(
        json.dumps({"login": "release-bot", "id": 9, "type": "Bot"}), 200, content_type="application/json",
        headers={"X-OAuth-Scopes": "repo, read:org", "github-authentication-token-expiration": "2027-03-01 12:00:00 UTC"})
    v, secret = one(tmp_path, "github.pat", provider)
    assert v.status == "valid" and v.scopes == ("repo", "read:org")
    assert v.expires_at == "2027-03-01T12:00:00+00:00"
    assert (v.identity.kind, v.identity.human) == ("bot", False)
    (req,) = provider.requests
    assert req["headers"]["Authorization"] == f"Bearer {secret}" and req["path"] == "/user"


@pytest.mark.parametrize("rule,path,answer", [
    ("github.pat", "/user", Response('{"message": "Bad credentials"}', 401)),
    ("slack.user", "/auth.test", Response('{"ok": false, "error": "token_revoked"}', 200)),
    ("slack.bot", "/auth.test", Response('{"ok": false, "error": "invalid_auth"}', 200)),
    ("gitlab.pat", "/api/v4/personal_access_tokens/self", Response('{"message": "401 Unauthorized"}', 401)),
    ("gitlab.pat", "/api/v4/personal_access_tokens/self",
     Response('{"id": 4, "name": "ci", "revoked": true, "active": false, "scopes": ["api"]}', 200)),
    ("openai.project", "/v1/models", Response('{"error": {"code": "invalid_api_key"}}', 401)),
    ("cohere.api-key", "/v1/check-api-key", Response('{"valid": false}', 200)),
    ("aws.access-key", "/", Response("<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error>"
                                      "</ErrorResponse>", 403)),
    ("vault.service-token", "/v1/auth/token/lookup-self", Response('{"errors": ["permission denied"]}', 403)),
])
def test_revoked_credentials_are_invalid(tmp_path, provider, rule, path, answer):
    """What each provider documents for a revoked or unknown credential reads as `invalid`."""
    provider.answers[path] = answer
    v, _ = one(tmp_path, rule, provider)
    assert v.status == "invalid", v
    assert v.identity is None or rule == "gitlab.pat"


def test_slack_user_token_is_human(tmp_path, provider):
    """`auth.test` without `bot_id`: a person's token."""
    provider.answers["/auth.test"] = Response(json.dumps(
        {"ok": True, "team": "Acme", "user": "alice", "team_id": "T1", "user_id": "U7"}), 200)
    v, _ = one(tmp_path, "slack.user", provider)
    assert (v.status, v.identity.id, v.identity.kind, v.identity.human) == ("valid", "U7", "user", True)


def test_429_is_retried_after_retry_after(tmp_path, provider):
    """A 429 with `Retry-After: 1` is waited out, then the answer counts."""
    calls: list[float] = []

    def limited(req: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response('{"error": "rate limited"}', 429, headers={"Retry-After": "1"})
        return Response(json.dumps(DOCUMENTED["/api/whoami-v2"]), 200, content_type="application/json")

    provider.answers["/api/whoami-v2"] = limited
    v, _ = one(tmp_path, "huggingface.user", provider)
    assert v.status == "valid" and len(calls) == 2
    assert calls[1] - calls[0] >= 0.9


def test_a_retry_after_beyond_the_cap_is_an_error(tmp_path, provider):
    """A provider asking to wait longer than the cap is not waited for: `error`."""
    provider.answers["/api/whoami-v2"] = Response("{}", 429, headers={"Retry-After": "3600"})
    v, _ = one(tmp_path, "huggingface.user", provider)
    assert v.status == "error" and "Retry-After 3600" in v.detail


def test_5xx_is_an_error_not_invalid(tmp_path, provider):
    """A 503 says nothing about the credential: `error`."""
    provider.answers["/user"] = Response("unavailable", 503)
    v, _ = one(tmp_path, "github.pat", provider)
    assert v.status == "error" and "503" in v.detail


def test_a_redirect_to_another_host_is_not_followed(tmp_path, provider):
    """A 302 to another host is an `error`, and that host receives nothing (it records all)."""
    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        elsewhere = Recorder(other)
        for path in ("/user", "/v1/models"):
            provider.answers[path] = Response("", 302, headers={"Location": other.url_for(path)})
        secrets = write_samples(tmp_path, ["github.pat", "openai.project"], "redirect")
        result = verify_dir(tmp_path, provider.endpoints())
        for cred in result.credentials:
            v = result.verifications[cred.fingerprint]
            assert v.status == "error" and "redirect to another host" in v.detail
        assert elsewhere.requests == []
        assert len(provider.requests) == 2 and all(any(carried(r, s) for r in provider.requests)
                                                   for s in secrets.values())
    finally:
        other.stop()


def test_a_slow_provider_times_out(tmp_path, provider):
    """No answer within the timeout: `error`, not a hang."""
    def slow(req: Request) -> Response:
        time.sleep(1.5)
        return Response(json.dumps(DOCUMENTED["/user"]), 200)

    provider.answers["/user"] = slow
    start = time.monotonic()
    v, _ = one(tmp_path, "github.pat", provider, timeout=0.3)
    assert v.status == "error" and "no answer within 0.3s" in v.detail
    assert time.monotonic() - start < 1.5


def test_an_unreachable_endpoint_is_an_error(tmp_path):
    """Nothing listening: `error` with one line."""
    secret = write_samples(tmp_path, ["github.pat"], "down")["github.pat"]
    result = verify_dir(tmp_path, {"github": "http://127.0.0.1:9"})
    (v,) = result.verifications.values()
    assert v.status == "error" and "cannot connect" in v.detail and secret not in v.detail


def test_rules_without_verifier_are_unknown(tmp_path, provider):
    """A credential whose rule has no verifier is `unknown`, and nothing is sent for it."""
    write_samples(tmp_path, ["jina.api-key"], "unknown")
    result = verify_dir(tmp_path, provider.endpoints())
    (v,) = result.verifications.values()
    assert v.status == "unknown" and "no verifier" in v.detail and provider.requests == []


def test_vault_without_endpoint_is_unknown_and_sends_nothing(tmp_path, provider):
    """A Vault token has no public host: without `--verify-endpoint vault=` it is not sent."""
    write_samples(tmp_path, ["vault.service-token"], "vault")
    result = verify_dir(tmp_path, {})
    (v,) = result.verifications.values()
    assert v.status == "unknown" and "--verify-endpoint vault=URL" in v.detail


def test_one_request_per_credential_and_bounded_concurrency(tmp_path, provider):
    """The same token in five files is asked about once; never more requests in flight than allowed."""
    import threading

    rng = random.Random("conc")
    inflight, peak, lock = [0], [0], threading.Lock()

    def counted(req: Request) -> Response:
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        time.sleep(0.05)
        with lock:
            inflight[0] -= 1
        return Response(json.dumps(DOCUMENTED["/user"]), 200)

    provider.answers["/user"] = counted
    same = tokens.github(rng)
    for i in range(5):
        (tmp_path / f"dup{i}.env").write_text(f"GITHUB_TOKEN={same}\n")
    for i in range(6):
        (tmp_path / f"t{i}.env").write_text(f"GITHUB_TOKEN={tokens.github(rng)}\n")
    result = verify_dir(tmp_path, provider.endpoints(), concurrency=2)
    assert len(result.credentials) == 7 and len(provider.requests) == 7
    assert sum(carried(r, same) for r in provider.requests) == 1
    assert peak[0] <= 2


# -- CLI contract --------------------------------------------------------------------------------
def test_json_findings_carry_the_verification_object(tmp_path, provider):
    """`scan --verify --format json`: each finding has `verification` with exactly the promised fields."""
    write_samples(tmp_path, ["github.pat"], "json")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--no-history", "--verify",
                                    "--verify-endpoint", f"github={provider.url}", str(tmp_path)])
    assert res.exit_code == 1, res.output
    (f,) = json.loads(res.output)["findings"]
    v = f["verification"]
    assert {"status", "checked_at", "identity", "scopes", "expires_at", "detail"} <= set(v)
    assert v["status"] == "valid" and set(v["identity"]) == {"id", "name", "kind", "human"}
    assert v["identity"]["kind"] in ("user", "bot", "app", "service-account", "project", "org", "unknown")
    assert v["checked_at"].endswith("+00:00")


def test_nothing_is_sent_without_verify(tmp_path, provider):
    """Without `--verify` no request is made and findings carry no `verification`."""
    write_samples(tmp_path, ["github.pat", "openai.project"], "quiet")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--no-history", str(tmp_path)])
    assert res.exit_code == 1
    assert provider.requests == []
    assert all("verification" not in f for f in json.loads(res.output)["findings"])


@pytest.mark.parametrize("args,message", [
    (["--verify-endpoint", "github=http://127.0.0.1:1"], "needs --verify"),
    (["--verify", "--verify-endpoint", "github=http://example.com"], "HTTPS only"),
    (["--verify", "--verify-endpoint", "nosuch=https://example.com"], "no verifier for provider"),
    (["--verify", "--verify-endpoint", "github"], "PROVIDER=BASE_URL"),
    (["--verify", "--verify-ttl", "soon"], "--verify-ttl"),
])
def test_bad_verify_flags_are_one_line_exit_2(tmp_path, args, message):
    """Misused flags: one line on stderr, exit 2, nothing sent."""
    (tmp_path / "a.env").write_text("X=1\n")
    res = CliRunner().invoke(main, ["scan", "--no-history", *args, str(tmp_path)])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_the_datastore_records_and_reuses_verifications(tmp_path, provider):
    """`--db`: a `verified` event per credential (never the value); within the TTL the next run
    asks nobody; `--verify-ttl 0` asks again."""
    src = tmp_path / "src"
    src.mkdir()
    secret = write_samples(src, ["github.pat"], "db")["github.pat"]
    db = tmp_path / "s.db"
    args = ["scan", "--format", "json", "--no-history", "--db", str(db), "--verify",
            "--verify-endpoint", f"github={provider.url}", str(src)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 1 and len(provider.requests) == 1
    rows = sqlite3.connect(db).execute("SELECT kind, subject, detail FROM events WHERE kind = 'verified'").fetchall()
    assert len(rows) == 1 and json.loads(rows[0][2])["status"] == "valid" and rows[0][1] == "github"
    assert secret.encode() not in db.read_bytes()
    assert not any(secret.encode() in p.read_bytes() for p in tmp_path.glob("s.db*"))
    second = CliRunner().invoke(main, args)
    assert len(provider.requests) == 1
    v = json.loads(second.output)["findings"][0]["verification"]
    assert v["status"] == "valid" and v["reused"] is True
    CliRunner().invoke(main, args[:-1] + ["--verify-ttl", "0", str(src)])
    assert len(provider.requests) == 2


def test_table_shows_the_states(tmp_path, provider):
    """The table's `verified` column shows valid (with whose), invalid and error."""
    provider.answers["/v1/models"] = Response("{}", 401)
    provider.answers["/api/whoami-v2"] = Response("down", 502)
    write_samples(tmp_path, ["github.pat", "openai.project", "huggingface.user"], "table")
    res = CliRunner().invoke(main, ["scan", "--format", "table", "--no-history", "--verify",
                                    *sum((["--verify-endpoint", f"{k}={provider.url}"]
                                          for k in ("github", "openai", "huggingface")), []),
                                    str(tmp_path)])
    assert "valid: octocat (user, human)" in res.output
    assert "invalid" in res.output and "error:" in res.output and "502" in res.output


def test_github_expiry_header_formats():
    """GitHub's expiry header, with `UTC` or a numeric offset."""
    assert github_expiry("2026-03-01 12:00:00 UTC") == "2026-03-01T12:00:00+00:00"
    assert github_expiry("2026-03-01 12:00:00 +0200") == "2026-03-01T10:00:00+00:00"
    assert github_expiry("soon") is None


def test_sigv4_matches_botocore():
    """Our SigV4 signature equals botocore's for the same STS request, key and time."""
    import datetime as dt

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from scanner.verify.special import STS_BODY, sigv4_headers

    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    ours = sigv4_headers("POST", "https://sts.amazonaws.com/", STS_BODY, "AKIDEXAMPLE",
                         "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "sts",
                         {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, when)
    req = AWSRequest("POST", "https://sts.amazonaws.com/", data=STS_BODY,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "sts", "us-east-1")
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(req)
    theirs = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    assert ours["Authorization"].endswith(f"Signature={theirs}")
    assert ours["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/us-east-1/sts/"
                                            "aws4_request, SignedHeaders=content-type;host;x-amz-date, ")


# -- admin listings --------------------------------------------------------------------------------
def test_admin_listings_name_owner_project_and_creation(tmp_path, provider, monkeypatch):
    """`--admin-token`: OpenAI's project key listing (two pages, `redacted_value`) and Anthropic's
    key listing (`partial_key_hint`) are read with the admin token; a listed key whose hint
    matches a found credential gives its owner, project and creation date, which the graph shows
    as an identity holding it (`source: admin-listing`). A hint two listed keys share joins nothing."""
    from scanner.graph.build import build_graph

    secrets = write_samples(tmp_path, ["openai.project", "openai.service-account", "anthropic.api"], "admin")
    oa, sa, an = secrets["openai.project"], secrets["openai.service-account"], secrets["anthropic.api"]
    hint = lambda s: f"{s[:8]}...{s[-4:]}"  # noqa: E731
    pages = {
        None: {"object": "list", "has_more": True, "last_id": "key_1", "data": [
            {"object": "organization.project.api_key", "id": "key_1", "name": "triage", "redacted_value": hint(oa),
             "created_at": 1767225600, "owner": {"type": "user", "user": {
                 "id": "user_abc", "name": "Alice", "email": "alice@acme.test", "role": "owner"}}}]},
        "key_1": {"object": "list", "has_more": False, "last_id": "key_3", "data": [
            {"object": "organization.project.api_key", "id": "key_2", "name": "svc", "redacted_value": hint(sa),
             "created_at": 1767225600, "owner": {"type": "service_account", "service_account": {
                 "id": "svc_1", "name": "triage-bot", "role": "member"}}},
            {"object": "organization.project.api_key", "id": "key_3", "name": "twin", "redacted_value": hint(sa),
             "created_at": 1767225600, "owner": {"type": "user", "user": {"id": "user_x", "name": "X"}}}]},
    }
    provider.answers["/v1/organization/projects/proj_abc/api_keys"] = lambda req: Response(
        json.dumps(pages[req.args.get("after")]), 200, content_type="application/json")
    provider.answers["/v1/organization/projects"] = Response(json.dumps({"object": "list", "has_more": False, "data": [
        {"id": "proj_abc", "object": "organization.project", "name": "Support", "status": "active"}]}), 200)
    provider.answers["/v1/organizations/api_keys"] = Response(json.dumps({"has_more": False, "data": [
        {"id": "apikey_01", "type": "api_key", "name": "Developer Key", "workspace_id": "wrkspc_01",
         "created_at": "2025-10-30T23:58:27.427722Z", "created_by": {"id": "user_01", "type": "user"},
         "partial_key_hint": f"{an[:16]}...{an[-4:]}", "status": "active"}]}), 200)
    monkeypatch.setenv("OA_ADMIN", "sk-admin-synthetic-oa")
    monkeypatch.setenv("AN_ADMIN", "sk-ant-admin01-synthetic")
    from scanner.verify.admin import parse_admin_tokens

    admin = parse_admin_tokens(["openai=OA_ADMIN", "anthropic=AN_ADMIN"], __import__("os").environ)
    result = verify_dir(tmp_path, provider.endpoints(), admin=admin)
    by_rule = {c.rule_id: result.verifications[c.fingerprint] for c in result.credentials}
    listed = dict(by_rule["openai.project"].listing)
    assert listed["owner"] == "alice@acme.test" and listed["project"] == "Support"
    assert listed["created_at"] == "2026-01-01T00:00:00+00:00" and listed["owner_kind"] == "user"
    assert by_rule["openai.service-account"].listing == ()  # two listed keys share its hint
    assert dict(by_rule["anthropic.api"].listing)["project"] == "wrkspc_01"
    assert not result.incomplete
    admin_reqs = [r for r in provider.requests if "/organization" in r["path"]]
    assert {r["headers"].get("Authorization") or r["headers"].get("X-Api-Key") for r in admin_reqs} == \
        {"Bearer sk-admin-synthetic-oa", "sk-ant-admin01-synthetic"}
    sg = build_graph(result, None)
    fp = next(c.fingerprint for c in result.credentials if c.rule_id == "openai.project")
    (edge,) = [(u, d) for u, _, d in sg.graph.in_edges(f"credential:{fp}", data=True)
               if d.get("source") == "admin-listing"]
    assert edge[0] == "identity:listing:openai:user_abc" and edge[1]["kind"] == "holds"
    assert sg.graph.nodes[f"credential:{fp}"]["listed_project"] == "Support"


def test_an_unreadable_admin_listing_makes_the_scan_incomplete(tmp_path, provider, monkeypatch):
    """The admin token is refused: the scan says which listing was not read (exit 3 material)."""
    write_samples(tmp_path, ["anthropic.api"], "admin-bad")
    provider.answers["/v1/organizations/api_keys"] = Response('{"error": "unauthorized"}', 401)
    result = verify_dir(tmp_path, provider.endpoints(), admin={"anthropic": "sk-ant-admin01-x"})
    assert result.incomplete and "anthropic admin listing not read" in result.stats.errors[0]


def test_admin_token_flags_are_checked(tmp_path, monkeypatch):
    """An unset variable, an unknown provider, or no --verify: one line, exit 2."""
    (tmp_path / "a.env").write_text("X=1\n")
    monkeypatch.delenv("NOPE", raising=False)
    for args, msg in ((["--verify", "--admin-token", "openai=NOPE"], "$NOPE is not set"),
                      (["--verify", "--admin-token", "slack=HOME"], "no admin listing"),
                      (["--admin-token", "openai=HOME"], "needs --verify")):
        res = CliRunner().invoke(main, ["scan", "--no-history", *args, str(tmp_path)])
        assert res.exit_code == 2 and msg in res.output, res.output


def test_gitlab_project_token_is_joined_to_its_project(tmp_path, provider):
    """`--admin-token gitlab=...`: the bot user behind a project access token (`bot: true`) has one
    membership in the admin listing: its project becomes the key's owner; the token's own name
    and creation date (from `personal_access_tokens/self`) are kept."""
    from scanner.graph.build import build_graph

    write_samples(tmp_path, ["gitlab.pat"], "gitlab-admin")
    provider.answers["/api/v4/users/3/memberships"] = Response(json.dumps([
        {"source_id": 7, "source_name": "acme/support-agent", "source_type": "Project", "access_level": 40}]), 200)
    result = verify_dir(tmp_path, provider.endpoints(), admin={"gitlab": "glpat-synthetic-admin-token"})
    (v,) = result.verifications.values()
    facts = dict(v.listing)
    assert facts["project"] == "acme/support-agent" and facts["owner_kind"] == "project"
    assert facts["key_name"] == "ci" and facts["created_at"] == "2026-01-05T10:00:00.000Z"
    (req,) = [r for r in provider.requests if r["path"].endswith("/memberships")]
    assert req["headers"]["Private-Token"] == "glpat-synthetic-admin-token"
    sg = build_graph(result, None)
    assert "identity:listing:gitlab:Project/7" in sg.graph


def test_verifications_are_recorded_and_reused_on_postgresql(tmp_path, provider, pg_url):
    """The same on a PostgreSQL datastore: one `verified` event, no value in it, reused next run."""
    from scanner.store import Store

    secret = write_samples(tmp_path, ["github.pat"], "pg")["github.pat"]
    args = ["scan", "--format", "json", "--no-history", "--db", pg_url, "--verify",
            "--verify-endpoint", f"github={provider.url}", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 1
    assert CliRunner().invoke(main, args).exit_code == 1
    assert len(provider.requests) == 1
    with Store(pg_url) as store:
        events = [e for e in store.events() if e["kind"] == "verified"]
    assert len(events) == 1 and secret not in json.dumps(events)
    assert events[0]["detail"]["status"] == "valid" and events[0]["subject"] == "github"
