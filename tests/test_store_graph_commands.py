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


def _bot(make_repo, tmp_path):
    r = make_repo("bot")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: ./go\n")
    r.commit("wf")
    r.git("branch", "side")
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: bot\n"
                   "    workflows: [{github: acme/bot/.github/workflows/run.yml}]\n")
    return r, str(inv)


def _write_key(r, key: str) -> None:
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: ./go\n"
            f"        env:\n          OPENAI_API_KEY: {key}\n")
    r.commit("key")


def test_an_incomplete_latest_scan_blocks_the_graph_commands(make_repo, tmp_path, rng):
    """The latest scan of the agent's repository is incomplete (a broken ref; exit 3) after the
    agent's workflow got a key written into it: survivors / audit --db stop with one line naming
    that scan, exit 3; before, they answered from the older complete scan (no key: clear, exit
    0). A complete rescan settles it: the key is reached (orphaned, exit 1)."""
    from tokens import openai_project

    key = openai_project(rng)
    r, inv = _bot(make_repo, tmp_path)
    db = str(tmp_path / "s.db")
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 0
    _write_key(r, key)
    side = r.path / ".git" / "refs" / "heads" / "side"
    good = side.read_text()
    side.write_text("1" * 40 + "\n")
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 3
    for cmd in (["survivors", "bot"], ["audit"]):
        res = invoke(*cmd, "--inventory", inv, "--db", db, "--format", "json")
        assert res.exit_code == 3 and res.stdout == "", (cmd, res.output)
        [line] = res.stderr.strip().splitlines()
        assert line.startswith(f"sprawlscan: scan 2 of {r.path} in the datastore is incomplete (")
        assert "bad object refs/heads/side" in line and line.endswith("scan them again with --db")
    side.write_text(good)
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 1
    res = invoke("survivors", "bot", "--inventory", inv, "--db", db, "--format", "json")
    assert res.exit_code == 1
    assert [(c["rule_id"], c["reason"]) for c in json.loads(res.stdout)["credentials"]] == [("openai.project", "orphaned")]


def test_datastore_scans_of_other_target_sets_settle_or_do_not(make_repo, tmp_path, rng):
    """An incomplete scan of one repository is settled by a later complete scan that covers it
    (with another target): the answer comes from that newer scan (the key is reached). A newer
    complete scan of one target over an older one of two: the newer workflow text counts. A
    source the inventory names that no scan recorded blocks (workflow not found), exit 1."""
    from tokens import openai_project

    key = openai_project(rng)
    r, inv = _bot(make_repo, tmp_path)
    other = make_repo("other")
    other.write("README.md", "other\n")
    other.commit("o")
    db = str(tmp_path / "s.db")
    side = r.path / ".git" / "refs" / "heads" / "side"
    good = side.read_text()
    side.write_text("1" * 40 + "\n")
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 3
    side.write_text(good)
    assert invoke("scan", "--db", db, "--format", "json", str(r.path), str(other.path)).exit_code == 0
    res = invoke("survivors", "bot", "--inventory", inv, "--db", db, "--format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["credentials"] == [], res.output
    _write_key(r, key)
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 1
    res = invoke("survivors", "bot", "--inventory", inv, "--db", db, "--format", "json")
    assert res.exit_code == 1
    assert [c["reason"] for c in json.loads(res.stdout)["credentials"]] == ["orphaned"]
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("kind: AgentInventory\nagents:\n  - name: bot\n"
                         "    workflows: [{github: acme/unscanned/.github/workflows/run.yml}]\n")
    res = invoke("survivors", "bot", "--inventory", str(elsewhere), "--db", db, "--format", "json")
    [u] = json.loads(res.stdout)["unresolved"]
    assert res.exit_code == 1 and u["why"] == "workflow not found in the scanned sources"


def test_a_newer_scan_of_a_repository_supersedes_an_older_scan_of_it(make_repo, tmp_path):
    """The agent's workflow was deleted after an older scan of its repository; a newer complete
    scan of that repository with another one no longer has it: from the datastore the workflow
    is not found (blocks, exit 1), as on a fresh scan; before, the older scan's copy of the file
    was still read and the gate said clear (exit 0)."""
    r, inv = _bot(make_repo, tmp_path)
    other = make_repo("other")
    other.write("README.md", "other\n")
    other.commit("o")
    db = str(tmp_path / "s.db")
    assert invoke("scan", "--db", db, "--format", "json", str(r.path)).exit_code == 0
    r.git("rm", "-q", ".github/workflows/run.yml")
    r.commit("no workflow")
    assert invoke("scan", "--db", db, "--format", "json", str(r.path), str(other.path)).exit_code == 0
    args = ("survivors", "bot", "--inventory", inv, "--format", "json", "--at", "2026-01-10")
    fresh, stored = invoke(*args, str(r.path), str(other.path)), invoke(*args, "--db", db)
    assert fresh.exit_code == stored.exit_code == 1, stored.output
    assert json.loads(stored.stdout) == json.loads(fresh.stdout)
    [u] = json.loads(stored.stdout)["unresolved"]
    assert u["why"] == "workflow not found in the scanned sources"
