"""Owners in notifications (`scan --inventory`): the agents that use each new credential and
their owner refs reach the webhook, Slack and Jira, received by real local HTTP servers; a Jira
issue is assigned (`assignee.accountId`) to the first owner the inventory's `people:` map (or a
Backstage `User` annotation) gives an account, else left unassigned with the reason; without an
inventory owners are null (unknown); never a plaintext value; malformed maps exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tokens import anthropic, github, openai_project

from scanner.cli import main
from scanner.model import fingerprint

HOOK, SLACK, JIRA = "/hook", "/slack", "/rest/api/2/issue"

INVENTORY = """apiVersion: sprawlscan/v1
kind: AgentInventory
people:
  user:bob: {jira: 5b10ac8d82e05b22cc7d4ef5}
  group:finance: {jira: 61f0aa00b1c2d3e4f5a6b7c8}
agents:
  - name: triage
    owner: group:support-ops
    technicalOwner: user:bob
    credentials:
      - {id: openai, vault: secret/agents/triage#OPENAI_API_KEY}
      - {id: shared, vault: secret/shared/ci#GITHUB_TOKEN}
  - name: summarizer
    owner: group:research
    technicalOwner: user:carol
    credentials:
      - {id: shared, vault: secret/shared/ci#GITHUB_TOKEN}
      - {id: claude, vault: secret/agents/summarizer#ANTHROPIC_API_KEY}
"""


def bodies(httpserver, path: str) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def raw(httpserver) -> bytes:
    return b"".join(req.get_data() + str(req.headers).encode() for req, _ in httpserver.log)


def channels(httpserver) -> list[str]:
    for path in (HOOK, SLACK, JIRA):
        httpserver.expect_request(path, method="POST").respond_with_json({"id": "10001"})
    return ["--notify-webhook", httpserver.url_for(HOOK), "--notify-slack", httpserver.url_for(SLACK),
            "--notify-jira", httpserver.url_for("/"), "--notify-jira-project", "SEC"]


@pytest.fixture
def vault(tmp_path: Path, rng) -> tuple[Path, dict[str, str]]:
    """A vault export: the triage agent's key, a key both agents declare, the summarizer's key,
    and a key no agent declares."""
    values = {"triage": openai_project(rng), "shared": github(rng), "summarizer": anthropic(rng),
              "stray": github(rng)}
    doc = {"secret/data/agents/triage": {"OPENAI_API_KEY": values["triage"]},
           "secret/data/shared/ci": {"GITHUB_TOKEN": values["shared"]},
           "secret/data/agents/summarizer": {"ANTHROPIC_API_KEY": values["summarizer"]},
           "secret/data/misc/old": {"TOKEN": values["stray"]}}
    export = tmp_path / "vault.json"
    export.write_text(json.dumps({k: {"data": {"data": v, "metadata": {"version": 1}}}
                                  for k, v in doc.items()}))
    return export, values


def run(tmp_path: Path, export: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", "--db", str(tmp_path / "s.db"), "--format", "json",
                                    f"vault-export:{export}", *extra])
    return res.exit_code, res.output


def by_fp(items: list[dict], values: dict[str, str], key=lambda b: b["secret_sha256"]) -> dict[str, dict]:
    names = {fingerprint(v): n for n, v in values.items()}
    return {names[key(b)]: b for b in items}


def test_owners_reach_webhook_slack_and_jira_with_assignee(tmp_path, httpserver, vault):
    """Each webhook body names the agents using the credential and their owners (technical
    owners first); the Jira issue of a credential whose owners include a mapped person is
    assigned to the first mapped one, the others are unassigned saying why; Slack lists owners;
    no value anywhere."""
    export, values = vault
    inv = tmp_path / "agents.yaml"
    inv.write_text(INVENTORY)
    code, out = run(tmp_path, export, "--inventory", str(inv), *channels(httpserver))
    assert code == 1, out
    hooks = by_fp(bodies(httpserver, HOOK), values)
    assert {n: (h["agents"], h["owners"]) for n, h in hooks.items()} == {
        "triage": (["triage"], ["user:bob", "group:support-ops"]),
        "shared": (["summarizer", "triage"], ["user:carol", "user:bob", "group:research", "group:support-ops"]),
        "summarizer": (["summarizer"], ["user:carol", "group:research"]),
        "stray": ([], []),
    }
    issues = by_fp(bodies(httpserver, JIRA), values,
                   key=lambda b: json.loads(b["fields"]["description"].split("\n\n", 1)[1])["secret_sha256"])
    assert issues["triage"]["fields"]["assignee"] == {"accountId": "5b10ac8d82e05b22cc7d4ef5"}
    assert issues["shared"]["fields"]["assignee"] == {"accountId": "5b10ac8d82e05b22cc7d4ef5"}  # carol unmapped
    assert issues["shared"]["fields"]["description"].startswith("Assigned to user:bob")
    assert "assignee" not in issues["summarizer"]["fields"]
    assert "no owner maps to a Jira account" in issues["summarizer"]["fields"]["description"]
    assert "assignee" not in issues["stray"]["fields"]
    assert "no agent of the inventory uses it" in issues["stray"]["fields"]["description"]
    [slack] = bodies(httpserver, SLACK)
    lines = slack["text"].splitlines()
    assert any("owners user:bob, group:support-ops" in ln and "openai" in ln for ln in lines)
    assert sum("no owner: no agent of the inventory uses it" in ln for ln in lines) == 1
    everything = raw(httpserver)
    for value in values.values():
        assert value.encode() not in everything


def test_without_inventory_owners_are_unknown_not_empty(tmp_path, httpserver, vault):
    """No --inventory: `owners` and `agents` are null, Jira issues are unassigned and say the
    owners are unknown, Slack says so too."""
    export, values = vault
    assert run(tmp_path, export, *channels(httpserver))[0] == 1
    hooks = bodies(httpserver, HOOK)
    assert len(hooks) == 4 and all(h["owners"] is None and h["agents"] is None for h in hooks)
    issues = bodies(httpserver, JIRA)
    assert all("assignee" not in i["fields"] for i in issues)
    assert all(i["fields"]["description"].startswith("Unassigned: owners unknown") for i in issues)
    assert bodies(httpserver, SLACK)[0]["text"].count("owners unknown") == 4


def test_backstage_user_annotation_assigns(tmp_path, httpserver, vault):
    """A Backstage catalog: the agent's `spec.owner` and technical owner, and a `User` entity
    annotated `sprawlscan.io/jira-account-id` (named `user:default/dana` by the agent) give the
    assignee."""
    export, values = vault
    cat = tmp_path / "catalog-info.yaml"
    cat.write_text("""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: triage
  annotations:
    vault.io/secrets-path: secret/agents/triage
    sprawlscan.io/env-vars: OPENAI_API_KEY
    sprawlscan.io/technical-owner: user:default/dana
spec: {type: ai-agent, owner: group:support-ops, lifecycle: production}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: dana
  annotations: {sprawlscan.io/jira-account-id: "712020:0c1d2e3f-aaaa-bbbb-cccc-123456789abc"}
spec: {}
""")
    assert run(tmp_path, export, "--inventory", str(cat), *channels(httpserver))[0] == 1
    issues = by_fp(bodies(httpserver, JIRA), values,
                   key=lambda b: json.loads(b["fields"]["description"].split("\n\n", 1)[1])["secret_sha256"])
    assert issues["triage"]["fields"]["assignee"] == {"accountId": "712020:0c1d2e3f-aaaa-bbbb-cccc-123456789abc"}
    assert [n for n, i in issues.items() if "assignee" in i["fields"]] == ["triage"]
    hooks = by_fp(bodies(httpserver, HOOK), values)
    assert hooks["triage"]["owners"] == ["user:default/dana", "group:support-ops"]


@pytest.mark.parametrize(("people", "message"), [
    ("people: [user:bob]", "field 'people' must be a mapping"),
    ("people: {bob: {jira: x1}}", "'bob' is not a user:NAME or group:NAME ref"),
    ("people: {user:bob: {jira: ''}}", "field 'people.user:bob.jira' must be a Jira account id"),
    ("people: {user:bob: {slack: U1}}", "field 'people.user:bob.slack': unknown"),
    ("people: {user:bob: x1}", "field 'people.user:bob' must be a mapping"),
    ("people: {user:bob: {jira: a1}, user:default/bob: {jira: a2}}", "declared twice"),
])
def test_malformed_people_map_exits_2_before_scanning(tmp_path, httpserver, vault, people, message):
    """A bad `people:` entry: exit 2, one line naming the file and the field; nothing sent."""
    export, _ = vault
    inv = tmp_path / "agents.yaml"
    inv.write_text(f"kind: AgentInventory\n{people}\nagents:\n  - name: a\n")
    res = CliRunner().invoke(main, ["scan", "--db", str(tmp_path / "s.db"), f"vault-export:{export}",
                                    "--inventory", str(inv), "--notify-webhook", httpserver.url_for(HOOK)])
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and message in res.output and str(inv) in res.output
    assert httpserver.log == [] and not (tmp_path / "s.db").exists()


def test_scan_inventory_without_a_channel_is_a_usage_error(tmp_path, vault):
    """`scan --inventory` only names owners in notifications: without --notify-* (or --db) it
    exits 2 rather than being silently ignored."""
    export, _ = vault
    inv = tmp_path / "agents.yaml"
    inv.write_text(INVENTORY)
    for extra in (["--db", str(tmp_path / "s.db")], []):
        res = CliRunner().invoke(main, ["scan", f"vault-export:{export}", "--inventory", str(inv), *extra])
        assert res.exit_code == 2 and "--notify-" in res.output


def test_readme_people_example_loads(tmp_path):
    """The `people:` example in the README's "Org-wide scans" section is a valid inventory map."""
    from scanner.graph.inventory import load_inventory

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = next(b for b in readme.split("```yaml\n")[1:] if "\npeople:" in b).split("```", 1)[0]
    inv = tmp_path / "agents.yaml"
    inv.write_text(block.replace("agents: [...]", "agents: [{name: a, technicalOwner: user:bob}]"))
    loaded = load_inventory(inv)
    assert loaded.jira_account("user:bob") == "5b10ac8d82e05b22cc7d4ef5"
    assert loaded.jira_account("user:default/bob") == "5b10ac8d82e05b22cc7d4ef5"
    assert loaded.jira_account("user:carol") is None
