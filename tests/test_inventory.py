"""The agent inventory: agents.yaml and Backstage descriptors load into records; every malformed
entry is one line naming the file, the agent and the field, with exit 2."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap

import pytest

from scanner.errors import ConfigError
from scanner.graph.inventory import CISecret, VaultRef, WorkflowRef, load_inventory

FULL = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: support-triage
    purpose: Classify inbound tickets
    owner: group:support-ops
    technicalOwner: user:bob
    lifecycle: production
    expires: 2026-06-30
    platform: {ref: "openai:org-acme/proj_support", kind: openai-project}
    identities:
      - {ref: "openai:proj_support/svcacct/support-triage", exclusive: true}
    credentials:
      - id: openai-key
        provider: openai
        vault: secret/data/agents/support-triage#OPENAI_API_KEY
        env: [OPENAI_API_KEY]
        ci:
          - github: acme/support-agent:OPENAI_API_KEY
          - github: org:acme:OPENAI_API_KEY
          - gitlab: acme/agents/support:OPENAI_API_KEY@production
        lifetime: static
        issuedTo: identity
        expires: 2026-12-31T10:00:00Z
    workflows:
      - github: acme/support-agent/.github/workflows/deploy.yml
      - gitlab: acme/platform-ci:templates/agents.yml
      - mcp: acme/support-agent:.cursor/mcp.json#jira
"""


def test_agents_yaml_loads_every_field(tmp_path):
    """The INVENTORY.md example becomes the expected records (API vault form normalised)."""
    p = tmp_path / "agents.yaml"
    p.write_text(FULL)
    [a] = load_inventory(p).agents
    assert (a.name, a.owner.business, a.owner.technical, a.lifecycle, a.expires) == \
        ("support-triage", "group:support-ops", "user:bob", "production", dt.date(2026, 6, 30))
    assert a.platform.ref == "openai:org-acme/proj_support" and a.identities[0].exclusive
    [c] = a.credentials
    assert c.vault == VaultRef("secret", "agents/support-triage", "OPENAI_API_KEY")
    assert c.ci == (CISecret("github", "acme/support-agent", "OPENAI_API_KEY"),
                    CISecret("github", "org:acme", "OPENAI_API_KEY"),
                    CISecret("gitlab", "acme/agents/support", "OPENAI_API_KEY", "production"))
    assert c.expires == dt.datetime(2026, 12, 31, 10, tzinfo=dt.timezone.utc)
    assert a.workflows == (WorkflowRef("github", "acme/support-agent", ".github/workflows/deploy.yml"),
                           WorkflowRef("gitlab", "acme/platform-ci", "templates/agents.yml"),
                           WorkflowRef("mcp", "acme/support-agent", ".cursor/mcp.json", "jira"))


def test_backstage_catalog_multi_document(tmp_path):
    """Backstage descriptors with spec.type ai-agent become agents; other documents are ignored."""
    p = tmp_path / "catalog-info.yaml"
    p.write_text(textwrap.dedent("""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: website}
        spec: {type: service, owner: group:web}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata:
          name: support-triage
          description: Classify inbound tickets
          annotations:
            vault.io/secrets-path: secret/agents/support-triage
            sprawlscan.io/technical-owner: user:bob
            sprawlscan.io/expires: "2026-06-30"
            sprawlscan.io/lifecycle: production
            sprawlscan.io/env-vars: OPENAI_API_KEY, SLACK_BOT_TOKEN
            sprawlscan.io/ci-secrets: "github:acme/support-agent:OPENAI_API_KEY, github:org:acme:DEPLOY_TOKEN"
            sprawlscan.io/workflows: "github:acme/support-agent/.github/workflows/deploy.yml"
        spec:
          type: ai-agent
          owner: group:support-ops
          dependsOn: ["resource:openai-project-support"]
        """))
    [a] = load_inventory(p).agents
    assert (a.name, a.purpose, a.owner.business, a.owner.technical, a.lifecycle) == \
        ("support-triage", "Classify inbound tickets", "group:support-ops", "user:bob", "production")
    assert a.platform.ref == "resource:openai-project-support"
    assert [(c.id, str(c.vault) if c.vault else None, [x.name for x in c.ci]) for c in a.credentials] == [
        ("OPENAI_API_KEY", "secret/agents/support-triage#OPENAI_API_KEY", ["OPENAI_API_KEY"]),
        ("SLACK_BOT_TOKEN", "secret/agents/support-triage#SLACK_BOT_TOKEN", []),
        ("DEPLOY_TOKEN", None, ["DEPLOY_TOKEN"])]
    assert a.workflows == (WorkflowRef("github", "acme/support-agent", ".github/workflows/deploy.yml"),)


@pytest.mark.parametrize("old,new,expected", [
    ("lifecycle: production", "lifecycle: live", "agent 'support-triage': field 'lifecycle': must be one of"),
    ("expires: 2026-06-30", "expires: soon", "agent 'support-triage': field 'expires': not an ISO date"),
    ("        lifetime: static", "        lifetime: forever", "field 'credentials[0].lifetime'"),
    ("vault: secret/data/agents/support-triage#OPENAI_API_KEY", "vault: nokey",
     "field 'credentials[0].vault': must be mount/path#key"),
    ("      - id: openai-key", "      - provider: x\n        idx: openai-key", "field 'credentials[0].id': is required"),
    ("      - mcp: acme/support-agent:.cursor/mcp.json#jira", "      - ftp: somewhere", "field 'workflows[2]'"),
    ("          - github: org:acme:OPENAI_API_KEY", "          - github: nocolon", "field 'credentials[0].ci[1]'"),
    ("exclusive: true}", "exclusive: maybe}", "field 'identities[0].exclusive'"),
])
def test_malformed_inventory_names_file_agent_field(tmp_path, old, new, expected):
    """Each kind of mistake raises ConfigError naming the file, the agent and the field."""
    assert old in FULL
    p = tmp_path / "agents.yaml"
    p.write_text(FULL.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_inventory(p)
    assert str(err.value).startswith(f"{p}: ") and expected in str(err.value)


def test_malformed_inventory_exits_two_with_one_line(tmp_path):
    """From the CLI: exit 2, one line on stderr, no traceback."""
    p = tmp_path / "agents.yaml"
    p.write_text(FULL.replace("issuedTo: identity", "issuedTo: robot"))
    proc = subprocess.run([sys.executable, "-m", "scanner", "survivors", "support-triage", "--inventory", str(p),
                           str(tmp_path)], capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"sprawlscan: {p}: agent 'support-triage': field 'credentials[0].issuedTo': "
        "must be one of identity, platform, human (got 'robot')"]


@pytest.mark.parametrize("text,expected", [
    ("agents: [\n", "not valid YAML"),
    ("kind: AgentInventory\nagents: {}\n", "field 'agents' must be a list"),
    ("kind: AgentInventory\nagents:\n  - name: a\n  - name: a\n", "agent 'a': field 'name': declared twice"),
    ("kind: AgentInventory\nagents:\n  - purpose: x\n", "agents[0]: field 'name' is required"),
    ("kind: Other\n", "no agents"),
    ("kind: AgentInventory\nagents:\n  - name: a\n    expires: 2026-13-45\n", "not valid YAML"),
])
def test_structural_errors(tmp_path, text, expected):
    """Broken YAML, wrong shapes, duplicates and missing names are configuration errors."""
    p = tmp_path / "agents.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_inventory(p)


def test_readme_inventory_example_loads(tmp_path):
    """The inventory shown in the README is valid."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("kind: AgentInventory", 1)[1].split("```", 1)[0]
    p = tmp_path / "agents.yaml"
    p.write_text("apiVersion: sprawlscan/v1\nkind: AgentInventory" + block)
    [a] = load_inventory(p).agents
    assert a.credentials[0].minted_by == "app-key" and len(a.workflows) == 2


def test_backstage_inventory_drives_survivors(make_repo, tmp_path, rng):
    """survivors works from a Backstage catalog: the env var declared by annotation binds the
    dotenv copy in the agent's repository."""
    import json

    from click.testing import CliRunner

    from scanner.cli import main
    from scanner.model import fingerprint
    from tokens import slack_bot

    tok = slack_bot(rng)
    r = make_repo("helper")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'x'}]\n")
    r.commit("wf")
    r.write(".env", f"SLACK_BOT_TOKEN={tok}\n")
    cat = tmp_path / "catalog-info.yaml"
    cat.write_text(textwrap.dedent("""\
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: helper
          annotations:
            sprawlscan.io/env-vars: SLACK_BOT_TOKEN
            sprawlscan.io/workflows: "github:acme/helper/.github/workflows/run.yml"
        spec: {type: ai-agent, owner: group:ops}
        """))
    res = CliRunner().invoke(main, ["survivors", "helper", "--inventory", str(cat), "--format", "json", str(r.path)])
    doc = json.loads(res.output)
    assert res.exit_code == 1 and [(c["secret_sha256"], c["reason"]) for c in doc["credentials"]] == \
        [(fingerprint(tok), "orphaned")]
    assert doc["credentials"][0]["owners"] == {"business": "group:ops", "technical": None}
