"""Provider evidence in the graph and in survival: an identity node holding each verified
credential; `invalid` kills; a person's valid key is `human` unless shared (naming the conflict
with the inventory); the provider's expiry is expiry evidence; `error` changes nothing. Then the
commands built on it: `retired AGENT --verify` and `revoke FINGERPRINT --yes`."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import shutil
import sqlite3
import textwrap
from typing import Any

import pytest
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from scanner.cli import main
from scanner.graph.build import build_graph
from scanner.graph.inventory import load_inventory
from scanner.graph.survival import survivors
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact
from scanner.verify import ENDPOINT_KEYS
from scanner.verify.base import Identity, Verification
from tokens import github, slack_bot

AT = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
CHECKED = "2026-01-10T00:00:00+00:00"

INVENTORY = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: bot-a
    identities: [{ref: "slack:app/bot-a", exclusive: true}]
    credentials:
      - {id: slack, provider: slack, vault: "secret/agents/bot-a#SLACK", issuedTo: identity}
      - {id: gh, provider: github, vault: "secret/agents/bot-a#GH"}
  - name: bot-b
    credentials:
      - {id: shared, provider: github, vault: "secret/agents/bot-b#GH"}
"""


def cred(secret: str, path: str, rule: str, provider: str) -> Credential:
    return Credential(fingerprint(secret), rule, provider, redact(secret),
                      (Location("vault", "secret", path),))


def report(tmp_path, creds: list[Credential], verified: dict[str, Verification], inventory: str = INVENTORY):
    (tmp_path / "agents.yaml").write_text(textwrap.dedent(inventory))
    result = ScanResult(tuple(creds), ScanStats(), verifications=verified)
    sg = build_graph(result, load_inventory(tmp_path / "agents.yaml"))
    return sg, {v.credential.fingerprint: v for v in survivors(sg, "bot-a", AT).verdicts}


def person(name: str = "alice") -> Verification:
    return Verification("valid", CHECKED, Identity("7", name, "user", True), verifier="github")


@pytest.fixture
def two(rng: random.Random) -> tuple[Credential, Credential]:
    return (cred(slack_bot(rng), "agents/bot-a#SLACK", "slack.bot", "slack"),
            cred(github(rng), "agents/bot-a#GH", "github.pat", "github"))


def test_without_evidence_the_inference_stands(tmp_path, two):
    """Baseline: the Slack token dies with its exclusive identity; the PAT survives as `human` (rule)."""
    slack, gh = two
    _, v = report(tmp_path, [slack, gh], {})
    assert not v[slack.fingerprint].survives and v[gh.fingerprint].reason == "human"


def test_a_rejected_credential_dies_with_the_time_it_was_checked(tmp_path, two):
    """`invalid` → dead, `dies_because` names the provider's rejection and `checked_at`."""
    slack, gh = two
    rejected = Verification("invalid", CHECKED, detail="GET /user: HTTP 401", verifier="github")
    _, v = report(tmp_path, [slack, gh], {gh.fingerprint: rejected})
    assert not v[gh.fingerprint].survives
    assert v[gh.fingerprint].dies_because.startswith(f"the provider rejected it at {CHECKED}")


def test_a_persons_key_is_human_whatever_the_inventory_declared(tmp_path, two):
    """The inventory says the Slack token is issued to the agent's own (dying) identity; the
    provider says a person holds it: it survives as `human`, and the action names the conflict."""
    slack, gh = two
    said = Verification("valid", CHECKED, Identity("U7", "alice", "user", True), verifier="slack")
    _, v = report(tmp_path, [slack, gh], {slack.fingerprint: said})
    verdict = v[slack.fingerprint]
    assert verdict.survives and verdict.reason == "human"
    assert "alice" in verdict.action and "the inventory declares it issued to identity" in verdict.action
    assert verdict.verification == said


def test_a_persons_key_another_agent_holds_is_shared(tmp_path, rng):
    """Valid and human, but bot-b declares the same value: `shared` comes first."""
    secret = github(rng)
    a = cred(secret, "agents/bot-a#GH", "github.pat", "github")
    b = Credential(a.fingerprint, a.rule_id, a.provider, a.redacted,
                   (Location("vault", "secret", "agents/bot-a#GH"), Location("vault", "secret", "agents/bot-b#GH")))
    _, v = report(tmp_path, [b], {a.fingerprint: person()})
    assert v[a.fingerprint].reason == "shared" and v[a.fingerprint].other_holders == ("agent:bot-b",)


def test_the_providers_expiry_is_expiry_evidence(tmp_path, two):
    """A machine token the provider says expires within the grace period dies as short-lived;
    one that expires later survives as `expiring`."""
    slack, gh = two
    bot = Identity("9", "ci-bot", "bot", False)
    soon = Verification("valid", CHECKED, bot, expires_at="2026-01-10T12:00:00+00:00", verifier="github")
    _, v = report(tmp_path, [slack, gh], {gh.fingerprint: soon})
    assert not v[gh.fingerprint].survives and "2026-01-10T12:00:00+00:00" in v[gh.fingerprint].dies_because
    later = Verification("valid", CHECKED, bot, expires_at="2026-03-01T00:00:00+00:00", verifier="github")
    _, v = report(tmp_path, [slack, gh], {gh.fingerprint: later})
    assert v[gh.fingerprint].survives and v[gh.fingerprint].expires == dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def test_an_error_changes_nothing(tmp_path, two):
    """`error` (could not tell) neither kills nor clears."""
    slack, gh = two
    err = Verification("error", CHECKED, detail="HTTP 503", verifier="github")
    _, v = report(tmp_path, [slack, gh], {gh.fingerprint: err, slack.fingerprint: err})
    assert v[gh.fingerprint].survives and v[gh.fingerprint].reason == "human"
    assert not v[slack.fingerprint].survives and "slack" in v[slack.fingerprint].dies_because


def test_the_provider_identity_holds_the_credential_in_the_graph(tmp_path, two):
    """Without any inventory entry for it, the graph shows whose the key is: an identity node
    (`source: provider`) with a `holds` edge; the credential node carries its status."""
    slack, gh = two
    sg, _ = report(tmp_path, [slack, gh], {gh.fingerprint: person("octocat")})
    node = "identity:provider:github:7"
    assert sg.graph.nodes[node]["kind"] == "identity" and sg.graph.nodes[node]["human"] is True
    assert sg.graph.nodes[node]["source"] == "provider" and sg.graph.nodes[node]["name"] == "octocat"
    (edge,) = [d for _, t, d in sg.graph.out_edges(node, data=True)]
    assert edge["kind"] == "holds" and edge["source"] == "provider"
    assert sg.graph.nodes[f"credential:{gh.fingerprint}"]["verified"] == "valid"


# -- commands against a local provider ---------------------------------------------------------
class Provider:
    """Answers GitHub `/user`, Slack `auth.test` / `auth.revoke`, GitHub and GitLab revocation,
    OpenAI `/v1/models`; `valid` switches between the documented valid and rejected answers."""

    def __init__(self, server: HTTPServer) -> None:
        self.valid = True
        self.overrides: dict[str, Response] = {}
        self.requests: list[tuple[str, str, str]] = []
        self.url = server.url_for("").rstrip("/")
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, req: Request) -> Response:
        self.requests.append((req.method, req.path, req.get_data(as_text=True)))
        if req.path in self.overrides:
            return self.overrides[req.path]
        auth = req.headers.get("Authorization", "")
        if req.path == "/user":
            if not self.valid:
                return Response('{"message": "Bad credentials"}', 401)
            return Response(json.dumps({"login": "bob", "id": 42, "type": "User"}), 200)
        if req.path == "/auth.test":
            if not self.valid:
                return Response('{"ok": false, "error": "token_revoked"}', 200)
            return Response(json.dumps({"ok": True, "user": "triage", "user_id": "U1", "bot_id": "B1",
                                        "team": "acme"}), 200)
        if req.path == "/auth.revoke":
            return Response(json.dumps({"ok": bool(auth), "revoked": bool(auth)}), 200)
        if req.path == "/credentials/revoke":
            return Response("", 202)
        if req.path == "/api/v4/personal_access_tokens/self" and req.method == "DELETE":
            return Response("", 204)
        return Response("{}" if self.valid else '{"error": "invalid"}', 200 if self.valid else 401)

    def flags(self) -> list[str]:
        return [a for k in sorted(ENDPOINT_KEYS) for a in ("--verify-endpoint", f"{k}={self.url}")]


@pytest.fixture
def provider(httpserver: HTTPServer) -> Provider:
    return Provider(httpserver)


def demo_args(demo_org, tmp_path) -> list[str]:
    inv = tmp_path / "agents.yaml"
    shutil.copy(demo_org / "agents.yaml", inv)
    return ["--inventory", str(inv), str(demo_org)]


def test_survivors_with_verify_shows_provider_evidence(demo_org, tmp_path, provider):
    """`survivors --verify --format json`: each verdict carries its `verification`."""
    res = CliRunner().invoke(main, ["survivors", "support-triage", "--format", "json", "--verify",
                                    *provider.flags(), *demo_args(demo_org, tmp_path)])
    out = json.loads(res.output)
    statuses = {c["rule_id"]: c.get("verification", {}).get("status") for c in out["credentials"]}
    assert statuses.get("slack.bot") == "valid" and statuses.get("github.pat") == "valid"


def test_retired_fails_while_credentials_still_work(demo_org, tmp_path, provider):
    """After deletion the Slack token expected to die still works, and bob's PAT works with no
    reason to outlive the agent: exit 1, both named; `--db` records `agent-retired`."""
    db = tmp_path / "s.db"
    res = CliRunner().invoke(main, ["retired", "support-triage", "--verify", "--db", str(db), "--format", "json",
                                    *provider.flags(), *demo_args(demo_org, tmp_path)])
    assert res.exit_code == 1, res.output
    out = json.loads(res.output[:res.output.rindex("}") + 1])
    assert {r["rule_id"] for r in out["still_valid"]} >= {"slack.bot"}
    assert "github.pat" in {r["rule_id"] for r in out["unexplained"]}
    (row,) = sqlite3.connect(db).execute("SELECT subject, detail FROM events WHERE kind = 'agent-retired'").fetchall()
    assert row[0] == "support-triage" and json.loads(row[1])["passed"] is False


def test_retired_passes_when_the_providers_reject_everything(demo_org, tmp_path, provider):
    """Every credential the agent reached is rejected by its provider: nothing contradicts the
    retirement (exit 0 unless some credential could not be verified, then 3)."""
    provider.valid = False
    res = CliRunner().invoke(main, ["retired", "support-triage", "--verify", "--format", "json",
                                    *provider.flags(), *demo_args(demo_org, tmp_path)])
    out = json.loads(res.output[:res.output.rindex("}") + 1])
    assert out["still_valid"] == [] and out["unexplained"] == []
    assert res.exit_code == (3 if out["unverified"] else 0)


def test_retired_needs_verify(demo_org, tmp_path):
    """Without --verify there is nothing to confirm: one line, exit 2."""
    res = CliRunner().invoke(main, ["retired", "support-triage", *demo_args(demo_org, tmp_path)])
    assert res.exit_code == 2 and "--verify" in res.output


def write_token(tmp_path, name: str, value: str):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / f"{name}.env").write_text(f"{name}={value}\n")
    return src


@pytest.mark.parametrize("var,make,path", [
    ("GITHUB_TOKEN", github, "/credentials/revoke"),
    ("SLACK_BOT_TOKEN", slack_bot, "/auth.revoke"),
    ("GITLAB_TOKEN", lambda r: "glpat-" + "".join(r.choice("abcdefghijkmnopqrstuvwxyzABCDEFGH23456789") for _ in range(20)),
     "/api/v4/personal_access_tokens/self"),
])
def test_revoke_sends_the_rescanned_value_and_records_it(tmp_path, provider, rng, var, make, path):
    """`revoke FP --yes`: the value comes from a rescan, goes to the provider's revocation call,
    and a `revoked` event is recorded (without the value)."""
    secret = make(rng)
    src = write_token(tmp_path, var, secret)
    db = tmp_path / "s.db"
    assert CliRunner().invoke(main, ["scan", "--no-history", "--db", str(db), "--format", "json", str(src)]).exit_code == 1
    fp = fingerprint(secret)
    res = CliRunner().invoke(main, ["revoke", fp[:12], "--yes", "--db", str(db), *provider.flags()])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("revoked:") and secret not in res.output
    sent = [r for r in provider.requests if r[1] == path]
    assert len(sent) == 1
    if path == "/credentials/revoke":
        assert json.loads(sent[0][2]) == {"credentials": [secret]}
    rows = sqlite3.connect(db).execute("SELECT fingerprint, detail FROM events WHERE kind = 'revoked'").fetchall()
    assert rows == [(fp, rows[0][1])] and secret not in rows[0][1]
    assert secret.encode() not in db.read_bytes()


def test_revoke_refuses_without_yes_and_sends_nothing(tmp_path, provider, rng):
    """No --yes: exit 2, one line, no request."""
    secret = github(rng)
    src = write_token(tmp_path, "GITHUB_TOKEN", secret)
    res = CliRunner().invoke(main, ["revoke", fingerprint(secret), str(src), *provider.flags()])
    assert res.exit_code == 2 and "--yes" in res.output and provider.requests == []


def test_revoke_without_a_documented_call_is_refused(tmp_path, provider, rng):
    """A provider with no self-revocation call (OpenAI): exit 2 naming the rule, nothing sent."""
    from tokens import openai_project

    secret = openai_project(rng)
    src = write_token(tmp_path, "OPENAI_API_KEY", secret)
    res = CliRunner().invoke(main, ["revoke", fingerprint(secret), "--yes", str(src), *provider.flags()])
    assert res.exit_code == 2 and "openai.project" in res.output and provider.requests == []


def test_revoke_of_an_unknown_fingerprint_is_one_line(tmp_path, provider):
    """Nothing in the sources has that fingerprint: exit 2."""
    (tmp_path / "a.txt").write_text("nothing\n")
    res = CliRunner().invoke(main, ["revoke", "deadbeefdeadbeef", "--yes", str(tmp_path)])
    assert res.exit_code == 2 and "not found" in res.output




def test_the_demo_table_shows_the_three_states(demo_org, provider):
    """`scan --verify` on the demo against a local provider: GitHub says valid (bob, a person),
    Slack says the token was revoked, OpenAI is down: valid, invalid and error in the table."""
    provider.overrides["/auth.test"] = Response('{"ok": false, "error": "token_revoked"}', 200)
    provider.overrides["/v1/models"] = Response("unavailable", 503)
    res = CliRunner().invoke(main, ["scan", "--format", "table", "--verify", *provider.flags(), str(demo_org)])
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│ ")
            and line.split("│")[1].strip()}
    assert "valid: bob (user, human)" in rows["github.pat"]
    assert "invalid" in rows["slack.bot"]
    assert "error: GET /v1/models" in rows["openai.project"]


def test_retired_asks_again_and_graph_commands_rescan_the_recorded_sources(demo_org, tmp_path, provider):
    """`retired` never reuses a recorded answer (a second run asks the providers again), and a
    graph command given only `--db` with `--verify` rescans the recorded sources for the values."""
    db = tmp_path / "s.db"
    args = demo_args(demo_org, tmp_path)
    assert CliRunner().invoke(main, ["scan", "--db", str(db), "--format", "json", "--verify", *provider.flags(),
                                     args[-1]]).exit_code == 1
    asked = len(provider.requests)
    assert asked > 0
    CliRunner().invoke(main, ["retired", "support-triage", "--verify", "--db", str(db), *provider.flags(), *args])
    assert len(provider.requests) > asked
    asked = len(provider.requests)
    res = CliRunner().invoke(main, ["survivors", "support-triage", "--format", "json", "--verify", "--db", str(db),
                                    *provider.flags(), *args[:2]])
    out = json.loads(res.output)
    assert {c["rule_id"]: c["verification"]["status"] for c in out["credentials"]}["slack.bot"] == "valid"
    # within the TTL the recorded answers count; only the AWS key, whose answer was an `error`
    # (this provider's STS says 200 without an Arn), is asked again: errors are never reused
    assert [r[1] for r in provider.requests[asked:]] == ["/"]


def test_graph_command_exports_provider_identities(demo_org, demo_secrets, tmp_path, provider):
    """`graph --verify --format graphml`: the provider's identity and its `holds` edge are in the
    exported file, and no secret value is."""
    out = tmp_path / "g.graphml"
    res = CliRunner().invoke(main, ["graph", "--format", "graphml", "-o", str(out), "--verify", *provider.flags(),
                                    *demo_args(demo_org, tmp_path)])
    assert res.exit_code == 0, res.output
    import networkx as nx

    g = nx.read_graphml(out)
    node = "identity:provider:github:42"
    assert g.nodes[node]["source"] == "provider" and g.nodes[node]["name"] == "bob"
    assert any(d["kind"] == "holds" and d["source"] == "provider" for _, _, d in g.out_edges(node, data=True))
    text = out.read_text()
    assert not [k for k, v in demo_secrets.items() if v in text]


def test_retired_on_an_incomplete_scan_records_no_pass(demo_org, tmp_path, provider):
    """Every credential is rejected, but one source could not be read: the retirement is not
    confirmed. The JSON and the recorded `agent-retired` event say `passed: false` with the scan's
    errors, and the exit is 3, never 0."""
    provider.valid = False
    db = tmp_path / "s.db"
    res = CliRunner().invoke(main, ["retired", "support-triage", "--verify", "--db", str(db), "--format",
                                    "json", *provider.flags(), *demo_args(demo_org, tmp_path),
                                    f"jira:http://127.0.0.1:{_closed_port()}"])
    assert res.exit_code == 3, res.output
    out = json.loads(res.output[:res.output.rindex("}") + 1])
    assert out["passed"] is False and out["scan_errors"]
    (row,) = sqlite3.connect(db).execute("SELECT detail FROM events WHERE kind = 'agent-retired'").fetchall()
    assert json.loads(row[0])["passed"] is False


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
