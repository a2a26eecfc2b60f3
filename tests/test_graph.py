"""The identity graph built from the demo organisation (real git repositories, real scan): node
and edge kinds, how each name was resolved, the exports, inferred agents, and the demo agents'
survivors per reason."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import load_inventory
from scanner.graph.report import GRAPH_FORMATS
from scanner.graph.survival import parse_at, survivors
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact
from scanner.pipeline import run_graph
from test_github_org import org  # noqa: F401 - the fixture: a GitHub org on a local server

AT = parse_at("2026-11-29")


@pytest.fixture(scope="module")
def demo_graph(demo_org):
    sg, _ = run_graph([str(demo_org)], demo_org / "agents.yaml")
    return sg


def test_node_and_edge_kinds(demo_graph):
    """Every node and edge kind the design names appears in the demo graph."""
    g = demo_graph.graph
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"credential", "location", "reference", "agent", "identity", "platform", "workflow", "owner"} <= kinds
    edges = {d["kind"] for _, _, d in g.edges(data=True)}
    assert {"copy_of", "resolves_to", "references", "calls", "runs", "uses", "issued_to",
            "authenticates_as", "owns"} <= edges
    call = [d for a, b, d in g.edges(data=True) if d["kind"] == "calls"
            and a == "workflow:github:acme/release-bot:.github/workflows/release.yml"]
    assert call == [{"kind": "calls", "how": "reusable", "inherit": True, "mapping": "", "job": "notes"}]


def test_resolves_to_records_how(demo_graph, demo_secrets):
    """The org secret OPENAI_API_KEY read by summarize.yml is bound through the inventory mapping."""
    g = demo_graph.graph
    ref = "reference:github:acme/platform-ci:.github/workflows/summarize.yml#OPENAI_API_KEY"
    target = f"credential:{fingerprint(demo_secrets['openai'])}"
    assert [d["how"] for _, b, d in g.out_edges(ref, data=True) if b == target] == \
        ["inventory mapping github:org:acme:OPENAI_API_KEY"]


def test_demo_agents_cover_every_reason(demo_graph, demo_secrets):
    """support-triage: shared (via release-bot's inherit), human (bob's PAT), dead (own Slack app);
    release-bot: platform; nightly-eval: orphaned, and its App token (40 minutes left) dies within
    the default grace period or, with a 10-minute grace, is expiring."""
    from build_demo import agent_secrets

    extra = agent_secrets()

    def verdicts(agent, grace=dt.timedelta(hours=24)):
        return {v.credential.fingerprint: (v.survives, v.reason)
                for v in survivors(demo_graph, agent, AT, grace).verdicts}

    assert verdicts("support-triage") == {fingerprint(demo_secrets["openai"]): (True, "shared"),
                                          fingerprint(demo_secrets["github_pat"]): (True, "human"),
                                          fingerprint(demo_secrets["slack"]): (False, None)}
    assert verdicts("release-bot") == {fingerprint(demo_secrets["openai"]): (True, "shared"),
                                       fingerprint(extra["anthropic_release"]): (True, "platform")}
    assert verdicts("nightly-eval") == {fingerprint(extra["ghs_eval"]): (False, None),
                                        fingerprint(extra["openai_eval"]): (True, "orphaned")}
    assert verdicts("nightly-eval", dt.timedelta(minutes=10)) == {fingerprint(extra["ghs_eval"]): (True, "expiring"),
                                                                  fingerprint(extra["openai_eval"]): (True, "orphaned")}
    rep = survivors(demo_graph, "support-triage", AT)
    shared = next(v for v in rep.verdicts if v.reason == "shared")
    assert shared.other_holders == ("agent:release-bot", "workflow:github:acme/release-bot:.github/workflows/release.yml")
    key = f"credential:{fingerprint(demo_secrets['openai'])}"
    assert shared.holders_via[0] == (
        "agent:release-bot", "workflow:github:acme/release-bot:.github/workflows/release.yml",
        "workflow:github:acme/platform-ci:.github/workflows/summarize.yml",
        "reference:github:acme/platform-ci:.github/workflows/summarize.yml#OPENAI_API_KEY", key)
    assert {loc.state for loc in shared.credential.locations} == {"live", "historical"}
    human = next(v for v in rep.verdicts if v.reason == "human")
    assert ("agent:support-triage", "workflow:mcp:acme/support-agent:.cursor/mcp.json#github",
            "reference:mcp:acme/support-agent:.cursor/mcp.json#github#GITHUB_PERSONAL_ACCESS_TOKEN",
            f"credential:{fingerprint(demo_secrets['github_pat'])}") in human.reached_via


def test_survivors_cli_on_demo(demo_org, demo_secrets):
    """The README's command: exit 1 (blocked), table names the reasons, no secret is printed."""
    p = subprocess.run([sys.executable, "-m", "scanner", "survivors", "support-triage", "--inventory",
                        str(demo_org / "agents.yaml"), "--at", "2026-11-29", str(demo_org)],
                       capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    assert "shared" in p.stdout and "human" in p.stdout and "BLOCKED" in p.stdout
    for value in demo_secrets.values():
        assert value not in p.stdout and value not in p.stderr
    md = CliRunner().invoke(main, ["survivors", "nightly-eval", "--inventory", str(demo_org / "agents.yaml"),
                                   "--format", "markdown", "--at", "2026-11-29", "--grace", "10m", str(demo_org)])
    assert md.exit_code == 1 and "| github.installation |" in md.output and "expiring" in md.output
    strict = CliRunner().invoke(main, ["survivors", "release-bot", "--strict", "--inventory",
                                       str(demo_org / "agents.yaml"), str(demo_org)])
    assert strict.exit_code == 1


@pytest.mark.parametrize("fmt", sorted(GRAPH_FORMATS))
def test_graph_exports(demo_org, tmp_path, fmt, demo_secrets):
    """graphml parses as XML with the agents, node-link JSON loads (also inside the HTML page), DOT is a
    digraph; no secrets."""
    out = tmp_path / f"g.{fmt}"
    res = CliRunner().invoke(main, ["graph", "--inventory", str(demo_org / "agents.yaml"), "--format", fmt,
                                    "--output", str(out), str(demo_org)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    if fmt == "graphml":
        ids = {n.get("id") for n in ET.fromstring(text).iter("{http://graphml.graphdrawing.org/xmlns}node")}
        assert "agent:release-bot" in ids
    elif fmt == "json":
        doc = json.loads(text)
        assert "agent:nightly-eval" in {n["id"] for n in doc["nodes"]} and doc["links"]
    elif fmt == "html":
        data = text.split('id="sprawlscan-data">', 1)[1].split("</script>", 1)[0]
        doc = json.loads(data)["graph"]
        assert "agent:nightly-eval" in {n["id"] for n in doc["nodes"]} and doc["links"]
    else:
        assert text.startswith("digraph sprawlscan {") and '"agent:support-triage"' in text
    for value in demo_secrets.values():
        assert value not in text


def test_inferred_agents_only_from_vault_paths_configs_are_consumers(tmp_path, rng):
    """Without an inventory, only `agents/<name>/` vault paths become (inferred) agents: an MCP
    server named `jira` and a workflow named `release-bot.yml` are not agents but consumer nodes,
    so summarizer's key that both read is `shared`; the report says the list is inferred."""
    from tokens import openai_project

    from scanner.graph.report import survival_dict

    (tmp_path / "mcp.json").write_text('{"mcpServers": {"jira": {"env": {"T": "${env:OPENAI_API_KEY}"}}}}')
    wf = tmp_path / "repo" / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "release-bot.yml").write_text("on: push\njobs:\n  a:\n    runs-on: x\n"
                                        "    steps: [{run: 'x ${{ secrets.OPENAI_API_KEY }}'}]\n")
    (wf / "lint.yml").write_text("on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: lint}]\n")
    key = openai_project(rng)
    cred = Credential(fingerprint(key), "openai.project", "openai", redact(key),
                      (Location("vault", "secret", "agents/summarizer/prod#OPENAI_API_KEY"),))
    flat = Credential(fingerprint(key + "x"), "openai.project", "openai", redact(key),
                      (Location("vault", "secret", "agents/triage#TRIAGE_KEY"),))
    sg = build_graph(ScanResult((cred, flat), ScanStats(), records_of([str(tmp_path), str(tmp_path / "repo")])), None)
    assert [(a.name, a.inferred) for a in sg.inventory.agents] == [("summarizer", True), ("triage", True)]
    rep = survivors(sg, "summarizer", AT)
    assert [(v.survives, v.reason) for v in rep.verdicts] == [(True, "shared")]
    assert rep.verdicts[0].other_holders == (f"workflow:github:{tmp_path / 'repo'}:.github/workflows/release-bot.yml",
                                             f"workflow:mcp:{tmp_path}:mcp.json#jira")
    assert "may be incomplete" in survival_dict(rep)["note"]
    [v] = survivors(sg, "triage", AT).verdicts
    assert (v.survives, v.reason) == (True, "orphaned")


def test_inventory_vault_declaration_resolves(tmp_path, rng):
    """A declared vault path (API form) binds the value found at that vault location."""
    from tokens import slack_bot

    tok = slack_bot(rng)
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: a\n    credentials:\n"
                   "      - {id: s, vault: 'secret/data/agents/a#SLACK'}\n")
    cred = Credential(fingerprint(tok), "slack.bot", "slack", redact(tok),
                      (Location("vault", "secret", "agents/a#SLACK"),
                       Location("vault", "secret", "agents/a#SLACK", state="historical")))
    sg = build_graph(ScanResult((cred,), ScanStats()), load_inventory(inv))
    assert sg.resolver.declared[("a", "s")] == ({fingerprint(tok)}, "inventory vault secret/agents/a#SLACK")


def test_every_cli_format_choice_resolves():
    """Each --format choice of survivors / audit / graph maps to a renderer or writer."""
    from scanner.graph.audit import AUDIT_FORMATS
    from scanner.graph.report import SURVIVAL_FORMATS

    choices = {name: next(p for p in cmd.params if p.name == "fmt").type.choices
               for name, cmd in main.commands.items() if name in ("survivors", "audit", "graph")}
    assert set(choices["survivors"]) == set(SURVIVAL_FORMATS)
    assert set(choices["audit"]) == set(AUDIT_FORMATS) | {"html"}   # html draws the graph: cli.audit
    assert set(choices["graph"]) == set(GRAPH_FORMATS)


def test_demo_with_vault_and_ticket_exports(demo_org, demo_secrets):
    """With the vault and Jira exports scanned too, support-triage's declarations bind through the
    vault path, and the shared key's exposure lists the vault, the ticket comment, the files and
    the git history, split live / historical."""
    from build_demo import exports_dir

    ex = exports_dir(demo_org)
    sg, _ = run_graph([str(demo_org), f"vault-export:{ex / 'vault' / 'export.json'}",
                       f"jira-export:{ex / 'tickets' / 'jira.json'}"], demo_org / "agents.yaml")
    rep = survivors(sg, "support-triage", AT)
    v = {x.credential.fingerprint: x for x in rep.verdicts}
    shared = v[fingerprint(demo_secrets["openai"])]
    assert shared.reason == "shared"
    assert shared.how[0].startswith("inventory vault secret/agents/support-agent#OPENAI_API_KEY")
    live = {(loc.source, loc.path) for loc in shared.credential.locations if loc.state == "live"}
    hist = {(loc.source, loc.path) for loc in shared.credential.locations if loc.state == "historical"}
    assert {("vault", "agents/support-agent#OPENAI_API_KEY"), ("git", "deploy.sh"), ("file", "files/.env")} <= live
    assert any(src == "jira" for src, _ in live | hist) and ("git", "agent.py") in hist
    assert "NHI2:2025" in shared.tags
    assert v[fingerprint(demo_secrets["slack"])].survives is False


def test_forge_facts_add_workflows_and_shadowing_secret_names(tmp_path, rng):
    """Workflow files a forge source read through its API are evaluated like local ones, and a
    repo-level secret the forge lists by name shadows the org-level mapping (reported as a name
    whose value cannot be read), while a repo without it binds the org secret."""
    from types import SimpleNamespace

    from tokens import openai_project

    key = openai_project(rng)
    cred = Credential(fingerprint(key), "openai.project", "openai", redact(key),
                      (Location("vault", "secret", "agents/owner#OPENAI_API_KEY"),))
    wf = "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'x ${{ secrets.OPENAI_API_KEY }}'}]\n"
    facts = (SimpleNamespace(kind="workflow", scope="acme/shadowed", name=".github/workflows/ci.yml", level="repo",
                             environment="", content=wf),
             SimpleNamespace(kind="workflow", scope="acme/plain", name=".github/workflows/ci.yml", level="repo",
                             environment="", content=wf),
             SimpleNamespace(kind="actions-secret", scope="acme/shadowed", name="OPENAI_API_KEY", level="repo",
                             environment="", content=""),
             SimpleNamespace(kind="actions-secret", scope="acme", name="OPENAI_API_KEY", level="org",
                             environment="", content=""))
    result = SimpleNamespace(credentials=(cred,), stats=ScanStats(), facts=facts)
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n"
                   "  - name: owner\n    credentials: [{id: k, vault: 'secret/agents/owner#OPENAI_API_KEY',"
                   " ci: [{github: 'org:acme:OPENAI_API_KEY'}]}]\n"
                   "  - name: shadowed\n    workflows: [{github: acme/shadowed/.github/workflows/ci.yml}]\n"
                   "  - name: plain\n    workflows: [{github: acme/plain/.github/workflows/ci.yml}]\n")
    sg = build_graph(result, load_inventory(inv))
    shadowed = survivors(sg, "shadowed", AT)
    assert shadowed.verdicts == ()
    [u] = shadowed.unresolved
    assert u.name == "OPENAI_API_KEY" and "repo secret acme/shadowed:OPENAI_API_KEY exists" in u.how
    plain = survivors(sg, "plain", AT)
    assert [(v.credential.fingerprint, v.how) for v in plain.verdicts] == \
        [(fingerprint(key), ("inventory mapping github:org:acme:OPENAI_API_KEY",))]
    [owner] = survivors(sg, "owner", AT).verdicts
    assert owner.other_holders == ("agent:plain", "workflow:github:acme/plain:.github/workflows/ci.yml")


def test_survivors_over_a_github_org_through_its_api(org, tmp_path):  # noqa: F811
    """A GitHub org crawled through the real PyGithub against a local server: the workflow read
    through the API binds OPENAI_API_KEY (a repo secret listed by name only) through the
    inventory's mapping to the vault copy; without that mapping it is reported as a name whose
    value cannot be read, and the gate fails."""
    from test_github_org import TOKEN

    api, s, cache = org
    export = tmp_path / "export.json"
    export.write_text(json.dumps({"secret/data/agents/agent": {"data": {
        "data": {"OPENAI_API_KEY": s["hist"]}, "metadata": {"version": 3}}}}))
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: agent\n    credentials:\n"
                   "      - {id: key, vault: 'secret/agents/agent#OPENAI_API_KEY', ci: [{github: 'acme/agent:OPENAI_API_KEY'}]}\n"
                   "    workflows: [{github: acme/agent/.github/workflows/ci.yml}]\n")
    args = ["survivors", "agent", "--inventory", str(inv), "--format", "json", "--github-url", api.base,
            "--cache-dir", str(cache), "github:acme", f"vault-export:{export}"]
    res = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(main, args)
    doc = json.loads(res.output)
    [c] = [c for c in doc["credentials"] if c["secret_sha256"] == fingerprint(s["hist"])]
    assert ["agent:agent", "workflow:github:acme/agent:.github/workflows/ci.yml",
            "reference:github:acme/agent:.github/workflows/ci.yml#OPENAI_API_KEY",
            f"credential:{fingerprint(s['hist'])}"] in c["reached_via"]
    assert "inventory mapping github:acme/agent:OPENAI_API_KEY" in c["resolved_by"]
    assert {loc["source"] for loc in c["exposure"]["live"]} == {"vault"}
    assert [loc["path"] for loc in c["exposure"]["historical"]] == ["agent.py"]
    assert doc["unresolved"] == [] and TOKEN not in res.output
    inv.write_text("kind: AgentInventory\nagents:\n  - name: agent\n"
                   "    workflows: [{github: acme/agent/.github/workflows/ci.yml}]\n")
    res = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(main, args)
    doc = json.loads(res.output)
    assert res.exit_code == 1 and doc["credentials"] == []
    assert [(u["name"], u["why"]) for u in doc["unresolved"]] == [
        ("OPENAI_API_KEY", "github repo secret acme/agent:OPENAI_API_KEY exists but its value is not "
                           "readable and no inventory entry maps it")]
