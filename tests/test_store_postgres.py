"""The datastore on a real PostgreSQL server (`--db postgresql://...`): the same schema as SQLite,
the same `scans` / `diff` / `history` for the same scans, incremental rescans, the append-only
event log, concurrent writers, and one-line errors that never show the password."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import networkx as nx
import psycopg
import pytest
from click.testing import CliRunner
from tokens import github, openai_project

from scanner.cli import main
from scanner.errors import DatastoreBusy
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint
from scanner.pipeline import ScanOptions, scan_and_record
from scanner.store import SCHEMA_VERSION, Store
from scanner.store.postgres import LOCK_KEY, PG_MIGRATIONS, pg_version
from scanner.store.schema import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent


def columns_sqlite(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'sqlite_%'")]
    out = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}
    conn.close()
    return out


def columns_pg(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
                            ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_fresh_database_gets_the_sqlite_schema(pg_url, tmp_path):
    """A new PostgreSQL database is migrated to the latest version with SQLite's tables and
    columns (plus the version table and graph_nodes' stand-in for SQLite's rowid)."""
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)
    with Store(pg_url) as store:
        assert pg_version(store.conn) == SCHEMA_VERSION  # type: ignore[arg-type]
    with Store(pg_url):  # opening again: nothing to do
        pass
    with Store(tmp_path / "s.db"):
        pass
    pg = columns_pg(pg_url)
    assert pg.pop("sprawlscan_schema") == ["version"]
    assert pg["graph_nodes"].pop() == "rowid"
    assert pg == columns_sqlite(tmp_path / "s.db")


def run(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(main, args)
    return res.exit_code, res.output


def scenario(db: str, d: Path, keep: str, removed: str, added: str) -> dict[str, object]:
    """Three scans of one directory (a secret added, one removed), then every reading command."""
    (d / "a.env").write_text(f"K={keep}\nR={removed}\n")
    codes = [run(["scan", "--db", db, "--format", "json", str(d)])[0]]
    (d / "a.env").write_text(f"K={keep}\nN={added}\n")
    codes.append(run(["scan", "--db", db, "--format", "json", str(d)])[0])
    (d / "b.env").write_text(f"R={removed}\n")
    codes.append(run(["scan", "--db", db, "--format", "json", str(d)])[0])
    views: dict[str, object] = {"codes": codes}
    for name, args in {"scans": ["scans"], "diff": ["diff"], "diff12": ["diff", "1", "2"],
                       "history": ["history"],
                       "history_removed": ["history", fingerprint(removed)[:12]]}.items():
        code, out = run([*args, "--db", db, "--format", "json"])
        assert code == 0, out
        views[name] = json.loads(out)
        table_code, table = run([*args, "--db", db])
        assert table_code == 0
        views[name + "_table_lines"] = len(table.splitlines())
    return views


TIMES = {"started", "finished", "at", "first_seen", "last_seen"}


def strip_times(doc: object) -> object:
    if isinstance(doc, dict):
        return {k: strip_times(v) for k, v in doc.items() if k not in TIMES}
    if isinstance(doc, list):
        return [strip_times(x) for x in doc]
    return doc


def test_scans_diff_history_equal_to_sqlite(pg_url, tmp_path, rng):
    """The same scans recorded in SQLite and in PostgreSQL read back the same through `scans`,
    `diff` and `history` (timestamps aside), with the lifecycle found / gone / reappeared."""
    keep, removed, added = github(rng), github(rng), openai_project(rng)
    d = tmp_path / "d"
    d.mkdir()
    lite = scenario(str(tmp_path / "s.db"), d, keep, removed, added)
    for f in d.iterdir():
        f.unlink()
    pg = scenario(pg_url, d, keep, removed, added)
    assert strip_times(pg) == strip_times(lite)
    assert pg["codes"] == [1, 1, 1]
    assert [e["kind"] for e in pg["history_removed"]] == ["found", "gone", "reappeared",
                                                         "location-added"]  # type: ignore[index]
    diff = pg["diff12"]
    assert [c["secret_sha256"] for c in diff["gone"]] == [fingerprint(removed)]  # type: ignore[index]
    assert [c["secret_sha256"] for c in diff["new"]] == [fingerprint(added)]  # type: ignore[index]
    assert [s["id"] for s in pg["scans"]] == [1, 2, 3]  # type: ignore[union-attr,index]


def test_incremental_rescan_and_no_plaintext_in_the_dump(pg_url, pg_server, tmp_path, make_repo,
                                                          rng):
    """A rescan of an unchanged repository reads no blob from git on PostgreSQL either, keeps
    every finding, and `pg_dump` of the whole database holds fingerprints, never a secret."""
    secrets = [github(rng), openai_project(rng)]
    r = make_repo("inc")
    r.write("old.py", f"K = '{secrets[0]}'\n")
    r.commit("init")
    r.write("conf/.env", f"OPENAI_API_KEY={secrets[1]}\n")
    r.write("old.py", "K = os.environ['K']\n")
    r.commit("move key to env")
    with Store(pg_url) as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
        g = nx.MultiDiGraph(name="g")
        g.add_edge("a", "b", key="holds", kind="holds", n=[1, 2])
        g.add_edge("a", "b", key="runs", kind="runs")
        store.save_graph(g, 2)
        store.save_graph(g, 2)  # replaced, not doubled
        back = store.load_graph()
    assert first.stats.blobs == 3 and second.stats.blobs == 0
    assert second.stats.skipped == {"already-scanned": 3}
    assert [c.fingerprint for c in first.credentials] == [c.fingerprint for c in second.credentials]
    assert {c.fingerprint for c in second.credentials} == {fingerprint(s) for s in secrets}
    assert nx.utils.graphs_equal(back, g) and list(back.edges(keys=True)) == list(g.edges(keys=True))
    dump = pg_server.dump(pg_url.rsplit("/", 1)[1])
    for s in secrets:
        assert s.encode() not in dump
        assert fingerprint(s).encode() in dump


def test_event_log_is_append_only(pg_url, tmp_path, rng):
    """UPDATE and DELETE on the event log are refused by PostgreSQL itself."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "k").write_text(github(rng))
    with Store(pg_url) as store:
        scan_and_record([str(d)], ScanOptions(), store)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sql in ("UPDATE events SET kind = 'gone'", "DELETE FROM events"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1


WORKER = textwrap.dedent("""
    import sys
    from scanner.pipeline import ScanOptions, scan_and_record
    from scanner.store import Store
    db, target, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)  # imported: the parent starts both at once
    sys.stdin.readline()
    for _ in range(rounds):
        with Store(db) as store:
            scan_and_record([target], ScanOptions(), store)
    print("done")
""")


def test_two_processes_scanning_into_one_database(pg_url, make_repo, rng):
    """Two processes open a fresh database (migration race) and scan into it at once, several
    rounds: every scan lands complete, every secret is found exactly once, nothing goes gone."""
    shared = github(rng)
    own: dict[str, list[str]] = {}
    repos = []
    for name in ("alpha", "beta"):
        r = make_repo(name)
        own[name] = [github(rng) for _ in range(3)]
        for i, key in enumerate(own[name]):
            r.write(f"k{i}.txt", f"{key}\nshared {shared}\n")
            r.commit(f"c{i}")
        repos.append(r)
    rounds = 5
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, pg_url, str(r.path), str(rounds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=env) for r in repos]
    for p in procs:  # both have imported everything (on a loaded machine, seconds apart)
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0 and out.strip() == "done", err
    with Store(pg_url) as store:
        scans = store.scans()
        assert len(scans) == 2 * rounds and all(s.complete and s.finished for s in scans)
        a = [s for s in scans if "alpha" in s.sources[0]]
        b = [s for s in scans if "beta" in s.sources[0]]
        assert any(x.started < y.finished and y.started < x.finished  # type: ignore[operator]
                   for x in a for y in b), "the two writers never overlapped"
        found = [e["fingerprint"] for e in store.events() if e["kind"] == "found"]
        expected = {fingerprint(k) for keys in own.values() for k in keys} | {fingerprint(shared)}
        assert sorted(found) == sorted(expected)  # type: ignore[type-var]
        assert not [e for e in store.events() if e["kind"] == "gone"]
        current = store.latest_complete_result()
        assert {c.fingerprint for c in current.credentials} == expected
        both = next(c for c in current.credentials if c.fingerprint == fingerprint(shared))
        assert {loc.container for loc in both.locations} == {"acme/alpha", "acme/beta"}


def test_graph_commands_read_postgres_like_sqlite(pg_url, demo_org, tmp_path):
    """`survivors`, `audit` and `graph` with no sources read the latest complete state from
    PostgreSQL and print what they print from SQLite."""
    lite = str(tmp_path / "s.db")
    inv = str(demo_org / "agents.yaml")
    for db in (lite, pg_url):
        assert run(["scan", "--db", db, "--format", "json", str(demo_org)])[0] == 1
    outs = []
    for db in (lite, pg_url):
        common = ["--inventory", inv, "--at", "2026-11-29", "--format", "json", "--db", db]
        code, out = run(["survivors", "support-triage", *common])
        acode, aout = run(["audit", *common])
        graph = tmp_path / "g.json"
        gcode, _ = run(["graph", "--inventory", inv, "--format", "json", "-o", str(graph),
                        "--db", db])
        outs.append((code, json.loads(out), acode, json.loads(aout), gcode,
                     json.loads(graph.read_text())))
    assert outs[0] == outs[1]
    assert outs[0][0] == 1 and outs[0][1]


def test_bad_urls_are_one_line_without_the_password(pg_server, pg_url):
    """A wrong password, a closed port, an empty database for a reading command, a newer schema:
    one line, exit 2, and the password given never printed."""
    wrong = pg_server.url("postgres", password="not-the-pw-4711")
    code, out = run(["scans", "--db", wrong])
    assert code == 2 and out.startswith("sprawlscan: ") and len(out.strip().splitlines()) == 1
    assert "not-the-pw-4711" not in out and "***" in out
    closed = f"postgresql://u:pw-0815@127.0.0.1:{__import__('pg_server').free_port()}/x"
    code, out = run(["history", "--db", closed])
    assert code == 2 and "cannot connect" in out and "pw-0815" not in out
    code, out = run(["diff", "--db", pg_url])
    assert code == 2 and "no datastore here" in out and pg_server.password not in out
    assert columns_pg(pg_url) == {}  # a reading command created nothing
    with Store(pg_url):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE sprawlscan_schema SET version = 99")
    code, out = run(["scans", "--db", pg_url])
    assert code == 2 and "newer than this sprawlscan" in out


@contextmanager
def holding(url: str, *sql: str) -> Iterator[psycopg.Connection]:
    """A second connection with an open transaction that ran `sql` (a conflicting lock), rolled
    back at the end."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("BEGIN")
    for statement in sql:
        conn.execute(statement)
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def _one(n: int) -> ScanResult:
    loc = Location("file", "/x", f"f{n}.env", line=1)
    return ScanResult((Credential(fingerprint(f"synthetic-{n}"), "github.pat", "github",
                                  f"ghp_{n}…(40)", (loc,)),), ScanStats())


def test_unit_saves_run_beside_a_writer_holding_the_lock(pg_url):
    """While another writer holds the writers' advisory lock (a long `finish_scan`), a scan still
    starts and saves each unit's blobs (inserts only); recording its credentials waits, and past
    the lock timeout stops with `DatastoreBusy` (exit 3, one line) having stored nothing of it;
    once the lock is free the same scan finishes with every row."""
    with Store(pg_url):
        pass
    with holding(pg_url, f"SELECT pg_advisory_xact_lock({LOCK_KEY})") as other, \
            Store(pg_url, busy_timeout_ms=300) as store:
        sid = store.begin_scan(["/x"], "full", "d")
        cache = store.blob_cache("d")
        cache.record("acme/x", "b" * 40, [])
        store.save_blobs(sid, cache)
        assert other.execute("SELECT scan_id FROM scanned_blobs").fetchall() == [(sid,)]
        start = time.monotonic()
        with pytest.raises(DatastoreBusy, match=r"longer than the lock timeout \(0.3 s\)") as err:
            store.finish_scan(sid, _one(1))
        assert time.monotonic() - start < 10
        assert err.value.exit_code == 3 and "\n" not in str(err.value)
        assert other.execute("SELECT count(*) FROM credentials").fetchone() == (0,)
    with Store(pg_url) as store:
        store.finish_scan(sid, _one(1))
        assert [s.complete for s in store.scans()] == [True]
        assert [c.fingerprint for c in store.latest_complete_result().credentials] == \
            [fingerprint("synthetic-1")]


def test_a_row_held_by_another_writer_past_the_timeout_is_one_line(pg_url):
    """A blob row another transaction inserted and has not committed: saving the same blob waits
    for it (no duplicate, no unique-key error) and past the lock timeout gives `DatastoreBusy`,
    not a psycopg traceback; after the other commits, the save goes through."""
    with Store(pg_url):
        pass
    blob = "c" * 40
    with Store(pg_url, busy_timeout_ms=300) as store:
        sid = store.begin_scan(["/x"], "full", "d")
        with holding(pg_url, "INSERT INTO scanned_blobs (repo, rules_digest, blob, scan_id) "
                             f"VALUES ('acme/x', 'd', '{blob}', 0)"):
            cache = store.blob_cache("d")
            cache.record("acme/x", blob, [])
            with pytest.raises(DatastoreBusy, match="lock timeout"):
                store.save_blobs(sid, cache)
        cache = store.blob_cache("d")
        cache.record("acme/x", blob, [])
        store.save_blobs(sid, cache)
        rows = store.conn.execute("SELECT repo, blob, scan_id FROM scanned_blobs").fetchall()
    assert rows == [("acme/x", blob, sid)]


def test_a_scan_blocked_past_the_lock_timeout_exits_3_with_one_line(pg_url, pg_server, make_repo,
                                                                     rng):
    """`sprawlscan scan --db postgresql://...` of a git repository while another writer holds the
    lock longer than `SPRAWLSCAN_DB_TIMEOUT`: exit 3 within seconds, one line naming the lock
    timeout (no traceback, no password), the scan left unfinished; its blobs were saved beside
    the lock holder, so the next scan reads no blob again and still records the credential (from
    the saved matches: no finding lost)."""
    secret = github(rng)
    repo = make_repo("blocked")
    repo.write("k.env", f"TOKEN={secret}\n")
    repo.commit("key")
    with Store(pg_url):
        pass
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPRAWLSCAN_DB_TIMEOUT": "0.5"}
    cmd = [sys.executable, "-m", "scanner", "scan", "--db", pg_url, "--format", "json",
           str(repo.path)]
    with holding(pg_url, f"SELECT pg_advisory_xact_lock({LOCK_KEY})"):
        start = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        took = time.monotonic() - start
    assert p.returncode == 3, p.stderr
    assert took < 60
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sprawlscan: postgresql://"), p.stderr
    assert "longer than the lock timeout (0.5 s)" in lines[0]
    assert pg_server.password not in p.stderr and secret not in p.stderr + p.stdout
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert p.returncode == 1, p.stderr
    summary = json.loads(p.stdout)["summary"]
    assert summary["blobs"] == 0 and summary["skipped"]["already-scanned"] == 1
    with Store(pg_url) as store:
        assert [(s.complete, s.finished is not None) for s in store.scans()] == \
            [(False, False), (True, True)]
        assert [c.fingerprint for c in store.latest_complete_result().credentials] == \
            [fingerprint(secret)]
    bad = subprocess.run([*cmd[:3], "scans", "--db", pg_url], capture_output=True, text=True,
                         cwd=ROOT, env={**env, "SPRAWLSCAN_DB_TIMEOUT": "soon"}, timeout=60)
    assert (bad.returncode, bad.stderr) == \
        (2, "sprawlscan: SPRAWLSCAN_DB_TIMEOUT='soon': expected seconds between 0 and 86400\n")


OPENER = textwrap.dedent("""
    import sys
    from scanner.store import Store
    who, urls = sys.argv[1], sys.argv[2:]
    for url in urls:
        sys.stdin.readline()  # start together
        with Store(url) as store:
            store.add_event("agent-retired", subject=who)
        print("ok", flush=True)
""")


def test_processes_migrating_the_same_fresh_database_at_once(pg_server):
    """Three processes open the same new database at the same moment, for several databases: one
    migrates, the others wait under the lock and find nothing to do; every event lands."""
    urls = [pg_server.create_database(f"t_fresh_{os.getpid()}_{i}") for i in range(4)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, who, *urls], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env=env) for who in ("a", "b", "c")]
    for _ in urls:
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            assert line == "ok", p.stderr.read() if p.stderr and p.poll() is not None else line
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for url in urls:
        with Store(url) as store:
            assert pg_version(store.conn) == SCHEMA_VERSION  # type: ignore[arg-type]
            assert sorted(str(e["subject"]) for e in store.events()) == ["a", "b", "c"]


def test_two_writers_saving_the_same_blobs_in_other_orders_never_deadlock(pg_url):
    """Two scans of the same repository save the same new blobs at once, each having read them in
    its own order, round after round: neither waits forever nor fails (rows go in key order, so
    one waits for the other instead of a deadlock), and each blob is stored once."""
    import random
    import threading

    with Store(pg_url):
        pass
    rounds, n = 8, 300
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with Store(pg_url, busy_timeout_ms=20_000) as store:
                sid = store.begin_scan(["/same"], "full", "d")
                for r in range(rounds):
                    blobs = [f"{r:02d}{i:038x}" for i in range(n)]
                    rng.shuffle(blobs)
                    cache = store.blob_cache("d")
                    for blob in blobs:
                        cache.record("acme/same", blob, [])
                    barrier.wait(timeout=60)
                    store.save_blobs(sid, cache)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    with Store(pg_url) as store:
        rows = store.conn.execute("SELECT count(*), count(DISTINCT blob) FROM scanned_blobs").fetchone()
    assert tuple(rows) == (rounds * n, rounds * n)
