"""One secret committed to a repo, pasted in a Jira comment and stored in vault is ONE credential
with three locations, whatever order the sources run in."""

from __future__ import annotations

import json

import pytest
from tokens import aws_pair, openai_project

from scanner.model import fingerprint
from scanner.pipeline import run_scan


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.mark.parametrize("vault_first", [False, True])
def test_repo_ticket_vault_fold_into_one_credential(make_repo, httpserver, rng, tmp_path,
                                                    monkeypatch, vault_first):
    """git + jira: + vault-export: give one credential, named by its rule (not `declared`), with
    a git, a jira and a vault location."""
    key = openai_project(rng)
    monkeypatch.setenv("JIRA_TOKEN", "pat-" + "q" * 20)
    repo = make_repo("support-agent")
    repo.write("agent.py", f"KEY = '{key}'\n")
    repo.commit("add key")
    base = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/rest/api/2/search").respond_with_json({
        "startAt": 0, "maxResults": 50, "total": 1, "issues": [{
            "key": "SUP-3", "fields": {"project": {"key": "SUP"}, "summary": "agent down",
                                       "comment": {"comments": [{"id": "77", "body": f"try {key}"}],
                                                   "total": 1}}}]})
    export = tmp_path / "vault.json"
    export.write_text(json.dumps({"secret/data/agents/support": {"data": {
        "data": {"OPENAI_API_KEY": key}, "metadata": {"version": 1}}}}))
    targets = [str(repo.path), f"jira:{base}", f"vault-export:{export}"]
    result = run_scan(targets[::-1] if vault_first else targets)
    [cred] = result.credentials
    assert cred.fingerprint == fingerprint(key) and cred.rule_id == "openai.project"
    assert sorted((loc.source, loc.container, loc.path) for loc in cred.locations) == [
        ("git", "acme/support-agent", "agent.py"),
        ("jira", "SUP", "SUP-3#comment-77"),
        ("vault", "secret", "agents/support#OPENAI_API_KEY"),
    ]


def test_declared_value_upgrades_to_rule(tmp_path, rng):
    """An AWS secret key stored alone in vault is only `declared` (the rule needs its key id next
    to it); once a copy beside its key id matches the rule, the credential takes the rule's id."""
    key_id, secret = aws_pair(rng)
    export = tmp_path / "v.json"
    export.write_text(json.dumps({"kv/ci/aws": {"data": {"AWS_SECRET_ACCESS_KEY": secret}}}))
    [alone] = run_scan([f"vault-export:{export}"]).credentials
    assert (alone.rule_id, alone.provider) == ("declared.secret", "aws")
    (tmp_path / "aws.ini").write_text(f"aws_access_key_id = {key_id}\n"
                                      f"aws_secret_access_key = {secret}\n")
    [cred] = run_scan([f"vault-export:{export}", str(tmp_path / "aws.ini")]).credentials
    assert (cred.rule_id, cred.provider) == ("aws.access-key", "aws")
    assert dict(cred.captures) == {"key_id": key_id} and len(cred.locations) == 2
