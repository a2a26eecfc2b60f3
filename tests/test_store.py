"""The datastore: migrations, the event log and lifecycle of credentials, diffs between scans,
the graph round-trip, and that no plaintext secret ever reaches the file."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens import github, openai_project

from scanner.cli import main
from scanner.errors import ConfigError, DatastoreBusy
from scanner.model import Credential, InventoryFact, Location, fingerprint
from scanner.pipeline import ScanOptions, scan_and_record
from scanner.store import SCHEMA_VERSION, Store
from scanner.store.schema import migrate, version


def scan_dir(store: Store, path: Path, **kw: object) -> int:
    return scan_and_record([str(path)], ScanOptions(**kw), store)[0]  # type: ignore[arg-type]


def kinds(store: Store, secret: str) -> list[str]:
    return [e["kind"] for e in store.events(fingerprint(secret))]


def test_new_file_is_migrated_to_the_latest_version_in_wal_mode(tmp_path):
    """Opening a path that does not exist creates it at the latest schema, WAL, busy timeout."""
    path = tmp_path / "sub" / "s.db"
    with Store(path) as store:
        assert version(store.conn) == SCHEMA_VERSION >= 2
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert {"scans", "credentials", "locations", "scanned_blobs", "events", "graph_nodes",
            "graph_edges"} <= tables
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file is an empty database: migrated from version 0
    with Store(empty) as store:
        assert version(store.conn) == SCHEMA_VERSION


def test_migration_from_the_previous_version_keeps_the_data(tmp_path, rng):
    """A version-1 file with a recorded credential opens as version 2 with that data intact."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    assert version(conn) == 1
    fp = fingerprint(github(rng))
    conn.execute("INSERT INTO scans (started, finished, sources, scope, mode, tool_version, "
                 "rules_digest, complete) VALUES ('t0', 't1', '[\"x\"]', 's', 'full', '0.0.1', 'd', 1)")
    conn.execute("INSERT INTO credentials (fingerprint, rule_id, provider, redacted, lifetime_hint, "
                 "first_seen, last_seen) VALUES (?, 'github.pat', 'github', 'ghp_a…(40)', 'static', "
                 "'t0', 't1')", (fp,))
    conn.execute("INSERT INTO locations (fingerprint, source, container, path, commit_id, line, url,"
                 " state, first_seen, last_seen) VALUES (?, 'file', '/x', 'a.env', '', 3, '', 'live',"
                 " 't0', 't1')", (fp,))
    conn.execute("INSERT INTO scan_locations VALUES (1, 1, 'live')")
    conn.execute("INSERT INTO events (at, kind, scan_id, fingerprint) VALUES ('t1', 'found', 1, ?)",
                 (fp,))
    conn.close()
    with Store(path) as store:
        assert version(store.conn) == SCHEMA_VERSION
        [cred] = store.latest_complete_result().credentials
        assert (cred.fingerprint, cred.rule_id, cred.locations[0].path, cred.locations[0].line) \
            == (fp, "github.pat", "a.env", 3)
        assert store.conn.execute("SELECT severity FROM credentials").fetchone()[0] == "high"
        assert [e["kind"] for e in store.events()] == ["found"]
        g = nx.MultiDiGraph()
        g.add_edge("a", "b", kind="holds")
        store.save_graph(g)  # a table the new version added
        assert list(store.load_graph().edges) == [("a", "b", 0)]


def test_a_newer_schema_or_a_non_database_is_one_line_exit_two(tmp_path):
    """A file from a newer sprawlscan, or garbage, is refused with one line, not a traceback."""
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigError, match="newer"):
        Store(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    res = CliRunner().invoke(main, ["history", "--db", str(junk)])
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        f"sprawlscan: {junk}: not a usable sprawlscan datastore (file is not a database)"]


def test_reading_commands_refuse_a_missing_datastore(tmp_path):
    """`history` / `diff` do not create an empty datastore where none is."""
    res = CliRunner().invoke(main, ["diff", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 2 and "no datastore here" in res.output
    assert not (tmp_path / "none.db").exists()


def test_no_plaintext_secret_in_the_database_files(tmp_path, demo_org, demo_secrets):
    """Grep every byte of the datastore (and its WAL) for every demo secret: none is there."""
    path = tmp_path / "s.db"
    with Store(path) as store:
        _, result = scan_and_record([str(demo_org)], ScanOptions(), store)
        _, again = scan_and_record([str(demo_org)], ScanOptions(), store)
        assert len(result.credentials) == len(again.credentials) >= 6
        assert again.stats.skipped["already-scanned"] == result.stats.blobs > 0  # nested repos too
        wal = path.with_name(path.name + "-wal")
        assert path.stat().st_size > 0
        live_bytes = b"".join(p.read_bytes() for p in (path, wal) if p.exists())
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s.db"))
    import build_demo

    for name, value in {**demo_secrets, **build_demo.agent_secrets()}.items():
        if name == "aws_id":
            continue  # an access key id is public metadata (kept as a capture), not the secret
        assert value.encode() not in data and value.encode() not in live_bytes, name
    assert fingerprint(demo_secrets["openai"]).encode() in data


def test_lifecycle_events_found_added_gone_reappeared_allowlisted(tmp_path, rng):
    """A credential's life in the event log, driven by real scans of a directory."""
    a, b = github(rng), openai_project(rng)
    d = tmp_path / "d"
    d.mkdir()
    (d / "one.env").write_text(f"A={a}\nB={b}\n")
    with Store(tmp_path / "s.db") as store:
        scan_dir(store, d)
        (d / "two.env").write_text(f"A={a}\n")
        scan_dir(store, d)
        (d / "one.env").write_text(f"A={a}\n")
        scan_dir(store, d)
        assert store.credential_status(fingerprint(b)) == "gone"
        (d / "three.env").write_text(f"{b}\n")
        scan_dir(store, d)
        allow = frozenset({fingerprint(a)})
        scan_dir(store, d, allowlist=allow)
        scan_dir(store, d, allowlist=allow)
        store.add_event("agent-retired", subject="support-agent", detail={"by": "test"})
        assert kinds(store, a) == ["found", "location-added", "allowlisted"]
        assert kinds(store, b) == ["found", "gone", "reappeared", "location-added"]
        assert store.credential_status(fingerprint(a)) == "allowlisted"
        last = store.events()[-1]
        assert (last["kind"], last["subject"], last["detail"]) == \
            ("agent-retired", "support-agent", {"by": "test"})
        added = [e for e in store.events(fingerprint(a)) if e["kind"] == "location-added"]
        assert added[0]["subject"] == f"file {d}:two.env:1"
        with pytest.raises(ValueError):
            store.add_event("deleted-everything")


def test_event_log_is_append_only(tmp_path, rng):
    """UPDATE and DELETE on the event log are refused by the database itself."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "k").write_text(github(rng))
    with Store(tmp_path / "s.db") as store:
        scan_dir(store, d)
        for sql in ("UPDATE events SET kind = 'gone'", "DELETE FROM events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                store.conn.execute(sql)
        assert len(store.events()) == 1


def test_incomplete_scan_never_marks_gone(tmp_path, make_repo, rng):
    """Missing evidence never kills: a partial scan adds, it does not retire."""
    key = github(rng)
    r = make_repo("flaky")
    r.write("a.txt", f"{key}\n")
    r.commit("a")
    with Store(tmp_path / "s.db") as store:
        scan_dir(store, r.path)
        (r.path / ".git" / "refs" / "heads" / "main").write_text("1" * 40 + "\n")
        sid, result = scan_and_record([str(r.path)], ScanOptions(), store)
        assert result.incomplete and not store.scan(sid).complete
        assert store.credential_status(fingerprint(key)) == "active"
        assert store.latest_complete_scans() == [1]


def test_gone_is_per_scope_other_targets_do_not_retire(tmp_path, rng):
    """Scanning another directory does not make the first directory's credentials gone."""
    a, b = github(rng), github(rng)
    x, y = tmp_path / "x", tmp_path / "y"
    x.mkdir()
    y.mkdir()
    (x / "k").write_text(a)
    (y / "k").write_text(b)
    with Store(tmp_path / "s.db") as store:
        scan_dir(store, x)
        scan_dir(store, y)
        scan_dir(store, y)
        assert store.credential_status(fingerprint(a)) == "active"
        assert {c.fingerprint for c in store.latest_complete_result().credentials} == \
            {fingerprint(a), fingerprint(b)}
        assert store.latest_complete_sources() == [str(x), str(y)]
        # the same secret moved from x to y: not gone, it is still seen somewhere
        (x / "k").write_text("clean\n")
        (y / "k2").write_text(a)
        scan_dir(store, y)
        scan_dir(store, x)
        assert store.credential_status(fingerprint(a)) == "active"


def test_diff_after_adding_and_removing_a_secret_cli(tmp_path, make_repo, rng):
    """`sprawlscan diff` (default: the last two scans) shows new / still present / gone."""
    keep, removed, added = github(rng), github(rng), openai_project(rng)
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.env").write_text(f"K={keep}\nR={removed}\n")
    db = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(main, ["scan", "--db", str(db), "--format", "json", str(d)]).exit_code == 1
    (d / "a.env").write_text(f"K={keep}\nN={added}\n")
    assert runner.invoke(main, ["scan", "--db", str(db), "--format", "json", str(d)]).exit_code == 1
    res = runner.invoke(main, ["diff", "--db", str(db), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert (doc["scan_a"]["id"], doc["scan_b"]["id"]) == (1, 2)
    assert [c["secret_sha256"] for c in doc["new"]] == [fingerprint(added)]
    assert [c["secret_sha256"] for c in doc["still_present"]] == [fingerprint(keep)]
    assert [c["secret_sha256"] for c in doc["gone"]] == [fingerprint(removed)]
    table = runner.invoke(main, ["diff", "1", "2", "--db", str(db)])
    assert table.exit_code == 0 and "1 new, 1 still present, 1 gone" in table.output
    reverse = json.loads(runner.invoke(main, ["diff", "2", "1", "--db", str(db), "--format",
                                              "json"]).output)
    assert [c["secret_sha256"] for c in reverse["gone"]] == [fingerprint(added)]
    scans = json.loads(runner.invoke(main, ["scans", "--db", str(db), "--format", "json"]).output)
    assert [(x["id"], x["mode"], x["complete"], x["sources"]) for x in scans] == \
        [(1, "full", True, [str(d)]), (2, "full", True, [str(d)])]
    assert "2 scan(s)" in runner.invoke(main, ["scans", "--db", str(db)]).output
    hist = runner.invoke(main, ["history", fingerprint(removed)[:12], "--db", str(db), "--format",
                                "json"])
    assert [e["kind"] for e in json.loads(hist.output)] == ["found", "gone"]
    for text in (res.output, table.output, hist.output):
        assert keep not in text and removed not in text and added not in text


def test_diff_needs_two_scans(tmp_path, rng):
    """With one scan there is nothing to compare: one line, exit 2."""
    d = tmp_path / "d"
    d.mkdir()
    db = tmp_path / "s.db"
    CliRunner().invoke(main, ["scan", "--db", str(db), str(d)])
    res = CliRunner().invoke(main, ["diff", "--db", str(db)])
    assert res.exit_code == 2 and "no earlier scan" in res.output
    assert CliRunner().invoke(main, ["diff", "1", "--db", str(db)]).exit_code == 2


def test_scan_records_only_with_db_or_env(tmp_path, monkeypatch, rng):
    """Without --db or $SPRAWLSCAN_DB nothing is written under the working directory."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "k").write_text(github(rng))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPRAWLSCAN_DB", raising=False)
    CliRunner().invoke(main, ["scan", "--format", "json", str(d)])
    assert not (tmp_path / ".sprawlscan").exists()
    monkeypatch.setenv("SPRAWLSCAN_DB", str(tmp_path / "env.db"))
    CliRunner().invoke(main, ["scan", "--format", "json", str(d)])
    with Store(tmp_path / "env.db") as store:
        assert len(store.scans()) == 1


def test_graph_round_trip(tmp_path):
    """A MultiDiGraph with parallel keyed edges and JSON attributes comes back equal."""
    g = nx.MultiDiGraph(name="acme", built_from=[1, 2])
    g.add_node("agent:support", kind="identity", expires=None, tags=["ai", "prod"])
    g.add_node("cred:abc", kind="credential", lifetime="static")
    g.add_node(7, kind="owner")
    g.add_edge("agent:support", "cred:abc", kind="holds", evidence={"inventory": "agents.yaml"})
    g.add_edge("agent:support", "cred:abc", kind="holds", evidence={"vault": "secret/x#k"})
    g.add_edge(7, "agent:support", key="own", kind="owns")
    with Store(tmp_path / "s.db") as store:
        store.save_graph(g)
        store.save_graph(g)  # a snapshot replaces, never duplicates
    with Store(tmp_path / "s.db") as store:
        back = store.load_graph()
    assert back.graph == g.graph
    assert dict(back.nodes(data=True)) == dict(g.nodes(data=True))
    assert sorted(back.edges(keys=True, data=True), key=repr) == \
        sorted(g.edges(keys=True, data=True), key=repr)
    bad = nx.MultiDiGraph()
    bad.add_node("x", when=object())
    with Store(tmp_path / "s.db") as store, pytest.raises(ConfigError, match="not JSON"):
        store.save_graph(bad)
    with Store(tmp_path / "s.db") as store:
        assert store.load_graph().number_of_edges() == 3  # the failed save changed nothing


def test_a_writer_locked_out_past_the_busy_timeout_gets_one_line(tmp_path):
    """Another process holding the write lock longer than the busy timeout: a clear error that
    makes the scan incomplete (exit 3), and the holder's data is untouched."""
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.add_event("agent-retired", subject="a")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Store(path, busy_timeout_ms=200) as store, \
                pytest.raises(DatastoreBusy, match=r"held the datastore longer than the lock "
                              r"timeout \(0.2 s\).*locked") as err:
            store.add_event("agent-retired", subject="b")
        assert err.value.exit_code == 3 and "\n" not in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with Store(path) as store:
        assert [e["subject"] for e in store.events()] == ["a"]


def _cred(n: int) -> Credential:
    fp = fingerprint(f"synthetic-{n}")
    return Credential(fp, "github.pat", "github", f"ghp_{n}…(40)",
                      (Location("file", "/x", f"f{n}.env", line=1),))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.sets(st.integers(0, 12)), b=st.sets(st.integers(0, 12)))
def test_diff_and_events_partition_two_scans(tmp_path_factory, a, b):
    """For any two consecutive complete scans of one scope: new / still / gone partition them,
    and the log has one `found` per credential ever seen and one `gone` per credential lost."""
    from scanner.model import ScanResult, ScanStats

    with Store(tmp_path_factory.mktemp("prop") / "s.db") as store:
        for ids in (a, b):
            sid = store.begin_scan(["/x"], "full", "d")
            store.finish_scan(sid, ScanResult(tuple(_cred(n) for n in sorted(ids)), ScanStats()))
        d = store.diff()
        fp = {n: fingerprint(f"synthetic-{n}") for n in a | b}
        assert {c.fingerprint for c in d.new} == {fp[n] for n in b - a}
        assert {c.fingerprint for c in d.still_present} == {fp[n] for n in a & b}
        assert {c.fingerprint for c in d.gone} == {fp[n] for n in a - b}
        kinds_ = [e["kind"] for e in store.events()]
        assert kinds_.count("found") == len(a | b) and kinds_.count("gone") == len(a - b)
        assert {store.credential_status(fp[n]) for n in a - b} <= {"gone"}


def test_location_attributes_and_states_survive_the_store(tmp_path):
    """What the graph reads from the store is what the scan saw: vault metadata attributes, URLs,
    live/historical states and captures come back as recorded."""
    from scanner.model import ScanResult, ScanStats

    cred = Credential(fingerprint("synthetic-vault"), "aws.access-key", "aws", "abcd…(40)", (
        Location("vault", "secret", "agents/x#token", state="live",
                 attributes=(("custom_metadata.expires", "2026-01-01"), ("version", "3"))),
        Location("jira", "OPS", "OPS-1", state="historical", url="https://jira.example/OPS-1")),
        "static", (("key_id", "AKIAEXAMPLEEXAMPLE12"),))
    facts = (InventoryFact("actions-secret", "acme/x", "OPENAI_API_KEY", "repo"),
             InventoryFact("workflow", "acme/x", ".github/workflows/ci.yml", content="on: push\n"))
    with Store(tmp_path / "s.db") as store:
        sid = store.begin_scan(["vault-export:x.json"], "full", "d")
        store.finish_scan(sid, ScanResult((cred,), ScanStats(), facts))
        stored = store.latest_complete_result()
        [back] = stored.credentials
    assert back == cred
    assert stored.facts == facts  # records come back whole: the graph is built from them
    assert [loc.attributes for loc in back.locations] == [loc.attributes for loc in cred.locations]


def test_stored_state_is_what_the_last_complete_scan_saw(tmp_path, rng, monkeypatch):
    """`stored_state` (the graph commands' input without sources) gives targets and credentials
    of the latest complete scan, found through $SPRAWLSCAN_DB, without scanning again."""
    from scanner.pipeline import stored_state

    key = github(rng)
    d = tmp_path / "d"
    d.mkdir()
    (d / "k.env").write_text(f"T={key}\n")
    with Store(tmp_path / "s.db") as store:
        scan_dir(store, d)
    (d / "k.env").unlink()  # proves nothing is re-scanned
    monkeypatch.setenv("SPRAWLSCAN_DB", str(tmp_path / "s.db"))
    targets, result = stored_state(None)
    assert targets == [str(d)] and [c.fingerprint for c in result.credentials] == [fingerprint(key)]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPRAWLSCAN_DB")
    with pytest.raises(ConfigError, match="no datastore here"):
        stored_state(None)


def test_diff_of_scans_over_different_sources_compares_only_what_both_read(tmp_path, rng):
    """Scan A read folders x and y, scan B only x: y's credential is not "gone" (B never looked),
    it is listed as not compared, and the report says which sources only one scan covered."""
    in_x, in_y = github(rng), openai_project(rng)
    x, y = tmp_path / "x", tmp_path / "y"
    for folder, tok in ((x, in_x), (y, in_y)):
        folder.mkdir()
        (folder / "k.env").write_text(f"K={tok}\n")
    db = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(main, ["scan", "--db", str(db), "--format", "json", str(x), str(y)]).exit_code == 1
    assert runner.invoke(main, ["scan", "--db", str(db), "--format", "json", str(x)]).exit_code == 1
    doc = json.loads(runner.invoke(main, ["diff", "1", "2", "--db", str(db), "--format", "json"]).output)
    assert doc["gone"] == [] and doc["new"] == []
    assert [c["secret_sha256"] for c in doc["still_present"]] == [fingerprint(in_x)]
    assert [c["secret_sha256"] for c in doc["not_compared"]] == [fingerprint(in_y)]
    assert doc["sources_only_in_a"] == [str(y.resolve())] and doc["sources_only_in_b"] == []
    table = runner.invoke(main, ["diff", "1", "2", "--db", str(db)]).output
    assert "0 gone, 1 not compared" in table and f"only scan 1 covered {y.resolve()}" in table
    back = json.loads(runner.invoke(main, ["diff", "2", "1", "--db", str(db), "--format", "json"]).output)
    assert back["new"] == [] and [c["secret_sha256"] for c in back["not_compared"]] == [fingerprint(in_y)]


def test_a_rescan_with_the_same_records_stores_them_once(tmp_path):
    """Two scans with the same records share one `fact_sets` row (a rescan of unchanged sources
    adds no copy of them); a third with other records adds one; each scan reads back its own."""
    from scanner.model import ScanResult, ScanStats

    same = (InventoryFact("actions-secret", "acme/x", "DEPLOY_TOKEN", "repo"),
            InventoryFact("workflow", "acme/x", ".github/workflows/ci.yml", content="on: push\n"))
    other = same + (InventoryFact("git-repo", "acme/y", "/cache/acme/y"),)
    with Store(tmp_path / "s.db") as store:
        ids = []
        for facts in (same, same, other):
            sid = store.begin_scan(["github:acme"], "full", "d")
            store.finish_scan(sid, ScanResult((), ScanStats(), facts))
            ids.append(sid)
        assert store.conn.execute("SELECT COUNT(*) FROM fact_sets").fetchone()[0] == 2
        assert {r[0] for r in store.conn.execute("SELECT facts FROM scans")} == {"[]"}
        assert store.latest_complete_result().facts == other
        assert [store.result(sid).facts for sid in ids] == [same, same, other]


def test_scans_recorded_before_fact_sets_still_read_and_an_altered_set_is_refused(tmp_path):
    """A scan row holding its records itself (written before fact sets) reads as before; a fact
    set whose text no longer has the SHA-256 its scans name is one line, exit 2."""
    from scanner.model import ScanResult, ScanStats

    facts = (InventoryFact("actions-secret", "acme/x", "DEPLOY_TOKEN", "repo"),)
    with Store(tmp_path / "s.db") as store:
        sid = store.begin_scan(["github:acme"], "full", "d")
        store.finish_scan(sid, ScanResult((), ScanStats(), facts))
        rows = store.conn.execute("SELECT facts FROM fact_sets").fetchone()[0]
        store.conn.execute("UPDATE scans SET facts = ?, facts_sha256 = NULL", (rows,))
        assert store.latest_complete_result().facts == facts
        store.conn.execute("UPDATE scans SET facts = '[]', facts_sha256 = (SELECT sha256 FROM fact_sets)")
        store.conn.execute("UPDATE fact_sets SET facts = '[]'")
        with pytest.raises(ConfigError, match="fact_sets .* fails validation"):
            store.latest_complete_result()
