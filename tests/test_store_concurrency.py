"""Two processes scanning into one datastore at the same time (a scheduled job overlapping a manual
run): no corruption, no lost scan, no lost or doubled finding."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from tokens import github

from scanner.model import fingerprint
from scanner.store import Store

ROOT = Path(__file__).resolve().parent.parent
WORKER = textwrap.dedent("""
    import sys
    from scanner.pipeline import ScanOptions, scan_and_record
    from scanner.store import Store
    db, target, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.stdin.readline()  # start together
    for _ in range(rounds):
        with Store(db) as store:
            scan_and_record([target], ScanOptions(), store)
    print("done")
""")


def test_two_processes_scanning_into_one_database(tmp_path, make_repo, rng):
    """Both writers' scans all land complete, every secret is found once, integrity holds."""
    shared = github(rng)
    own = {}
    repos = []
    for name in ("alpha", "beta"):
        r = make_repo(name)
        own[name] = [github(rng) for _ in range(3)]
        for i, key in enumerate(own[name]):
            r.write(f"k{i}.txt", f"{key}\nshared {shared}\n")
            r.commit(f"c{i}")
        repos.append(r)
    db = tmp_path / "shared.db"
    rounds = 6
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(r.path), str(rounds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=env) for r in repos]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "done"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Store(db) as store:
        scans = store.scans()
        assert len(scans) == 2 * rounds and all(s.complete and s.finished for s in scans)
        a = [s for s in scans if "alpha" in s.sources[0]]
        b = [s for s in scans if "beta" in s.sources[0]]
        assert any(x.started < y.finished and y.started < x.finished for x in a for y in b), \
            "the two writers never overlapped: the test proved nothing"
        found = [e["fingerprint"] for e in store.events() if e["kind"] == "found"]
        expected = {fingerprint(k) for keys in own.values() for k in keys} | {fingerprint(shared)}
        assert sorted(found) == sorted(expected)  # each exactly once, the shared one too
        assert not [e for e in store.events() if e["kind"] == "gone"]
        current = store.latest_complete_result()
        assert {c.fingerprint for c in current.credentials} == expected
        both = next(c for c in current.credentials if c.fingerprint == fingerprint(shared))
        assert {loc.container for loc in both.locations} == {"acme/alpha", "acme/beta"}
        # after each repository's first scan, nothing was read again
        blobs = [json.loads(r[0])["blobs"] for r in store.conn.execute(
            "SELECT stats FROM scans ORDER BY id")]
        assert sorted(blobs) == [0] * (2 * rounds - 2) + [3, 3]



OPENER = textwrap.dedent("""
    import sys
    from scanner.store import Store
    folder, who, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(n):
        sys.stdin.readline()  # all writers open database i together
        with Store(f"{folder}/fresh{i}.db") as store:
            store.add_event("agent-retired", subject=who)
        print(i, flush=True)
""")


def test_processes_creating_the_same_fresh_database_at_once(tmp_path):
    """Three processes create and migrate the same new file at the same moment, thirty times over:
    the WAL switch that SQLite refuses without waiting is retried, every event lands."""
    n = 30
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), who, str(n)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=env) for who in ("a", "b", "c")]
    for i in range(n):
        for p in procs:
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            line = p.stdout.readline().strip()
            assert line == str(i), p.stderr.read() if p.stderr and p.poll() is not None else line
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    for i in range(n):
        with Store(tmp_path / f"fresh{i}.db") as store:
            assert sorted(str(e["subject"]) for e in store.events()) == ["a", "b", "c"]
