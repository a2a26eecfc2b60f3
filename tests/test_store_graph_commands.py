"""`survivors`, `audit` and `graph` without SOURCES read the datastore's latest complete state
instead of scanning, and answer as they do on a fresh scan."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from scanner.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_graph_commands_from_the_datastore_match_a_fresh_scan(demo_org, tmp_path, demo_secrets):
    """Scan once with --db; then survivors / audit / graph with no sources (no scan: the
    datastore's credentials, workflows re-read from the recorded targets) give the same answers."""
    db = str(tmp_path / "s.db")
    inv = str(tmp_path / "agents.yaml")
    shutil.copy(demo_org / "agents.yaml", inv)
    assert invoke("scan", "--db", db, "--format", "json", str(demo_org)).exit_code == 1
    args = ("survivors", "support-triage", "--inventory", inv, "--at", "2026-11-29", "--format", "json")
    fresh = invoke(*args, str(demo_org))
    stored = invoke(*args, "--db", db)
    assert fresh.exit_code == stored.exit_code == 1, stored.output
    assert json.loads(stored.output) == json.loads(fresh.output)
    audit_fresh = invoke("audit", "--inventory", inv, "--at", "2026-11-29", "--format", "json",
                         str(demo_org))
    audit_stored = invoke("audit", "--inventory", inv, "--at", "2026-11-29", "--format", "json",
                          "--db", db)
    assert audit_stored.exit_code == audit_fresh.exit_code
    assert json.loads(audit_stored.output) == json.loads(audit_fresh.output)
    out = tmp_path / "g.json"
    assert invoke("graph", "--inventory", inv, "--format", "json", "--output", str(out),
                  "--db", db).exit_code == 0
    text = out.read_text()
    assert "support-triage" in text
    for value in demo_secrets.values():
        assert value not in text and value not in stored.output


def test_graph_commands_without_sources_or_datastore_are_one_line(tmp_path, monkeypatch):
    """No sources and no datastore: exit 2 and one line saying how to record one."""
    monkeypatch.chdir(tmp_path)
    res = invoke("survivors", "x")
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        ("sprawlscan: .sprawlscan/sprawlscan.db: no datastore here (record scans with "
         "`sprawlscan scan --db .sprawlscan/sprawlscan.db ...`)")]


def test_a_recorded_graph_command_saves_the_graph(demo_org, tmp_path):
    """`graph SOURCES --db` records the scan and the identity graph it built (nodes and edges
    as exported)."""
    from scanner.store import Store

    db, out = tmp_path / "s.db", tmp_path / "g.json"
    res = invoke("graph", "--inventory", str(demo_org / "agents.yaml"), "--format", "json",
                 "--output", str(out), "--db", str(db), str(demo_org))
    assert res.exit_code == 0, res.output
    exported = json.loads(out.read_text())
    with Store(db) as store:
        g = store.load_graph()
        assert [s.mode for s in store.scans()] == ["full"]
    assert g.number_of_nodes() == len(exported["nodes"]) > 10
    assert {n for n, a in g.nodes(data=True) if a.get("kind") == "agent"} >= {"agent:support-triage"}
