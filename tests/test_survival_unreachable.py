"""Survival and unreachable git objects: a copy no ref reaches is exposure (listed with the
historical copies), never a consumer that would make a credential shared."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

from tokens import openai_project

from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import load_inventory
from scanner.graph.report import survival_dict
from scanner.graph.survival import survivors
from scanner.model import Location, ScanResult, fingerprint
from scanner.pipeline import run_scan

AT = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
INVENTORY = """\
kind: AgentInventory
agents:
  - name: owner
    credentials: [{id: k, vault: "secret/agents/owner#OPENAI_API_KEY"}]
  - name: tools
    workflows: [{mcp: "acme/tools:.cursor/mcp.json#search"}]
"""

def verdict(base, key: str, keep_reachable: bool):
    from build_demo import Repo

    r = Repo(base / "tools", "https://github.com/acme/tools.git")
    r.write("README.md", "tools\n")
    r.commit("init")
    r.write(".cursor/mcp.json", json.dumps({"mcpServers": {"search": {
        "command": "srv", "env": {"OPENAI_API_KEY": key}}}}, indent=2) + "\n")
    r.commit("mcp with a literal key")
    if not keep_reachable:
        r.git("reset", "-q", "--hard", "HEAD~1")
        r.git("reflog", "expire", "--expire=now", "--all")
    scanned = run_scan([str(r.path)])
    vault = Location("vault", "secret", "agents/owner#OPENAI_API_KEY")
    creds = tuple(type(c)(c.fingerprint, c.rule_id, c.provider, c.redacted,
                          tuple(sorted((*c.locations, vault))), c.lifetime_hint, c.captures)
                  for c in scanned.credentials if c.fingerprint == fingerprint(key))
    assert len(creds) == 1
    inv_file = base / "agents.yaml"
    inv_file.write_text(textwrap.dedent(INVENTORY))
    sg = build_graph(ScanResult(creds, scanned.stats, records_of([str(r.path)])), load_inventory(inv_file))
    rep = survivors(sg, "owner", AT)
    [v] = rep.verdicts
    return v, survival_dict(rep)["credentials"][0]

def test_live_mcp_copy_is_a_consumer_but_an_unreachable_one_is_exposure_only(tmp_path, rng):
    """The same literal key in an MCP config: live, the other agent's server consumes it (shared);
    left only in a dangling commit, it is an unreachable copy listed as exposure (orphaned)."""
    key = openai_project(rng)
    live, _ = verdict(tmp_path / "a", key, keep_reachable=True)
    # the agent that runs it and the server config itself (configs are consumers too)
    assert (live.reason, live.other_holders) == ("shared", ("agent:tools", "workflow:mcp:acme/tools:.cursor/mcp.json#search"))
    gone, as_json = verdict(tmp_path / "b", key, keep_reachable=False)
    assert (gone.survives, gone.reason, gone.other_holders) == (True, "orphaned", ())
    [hist] = as_json["exposure"]["historical"]
    assert (hist["source"], hist["path"], hist["state"]) == ("git", ".cursor/mcp.json", "unreachable")
    assert [loc["source"] for loc in as_json["exposure"]["live"]] == ["vault"]

