"""Every object of a repository's store is scanned, reachable or not: commits no ref reaches give
their blobs a path, other unreachable blobs stand alone, reflog-only commits are history, and the
fast path, the chunk path and incremental rescans agree."""

from __future__ import annotations

import json

from tokens import anthropic, github, huggingface, openai_project

from scanner.findings import Findings
from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan, scan_and_record
from scanner.sources.base import scan_chunks
from scanner.sources.git_history import GitHistorySource
from scanner.store import Store


def cred_of(result, secret):
    [c] = [c for c in result.credentials if c.fingerprint == fingerprint(secret)]
    return c


def build(make_repo, rng):
    """A repository with a dangling commit (reflog expired), a reflog-only commit, a loose blob
    no commit names, and a staged-only file; returns (repo, secrets by kind, dangling commit)."""
    s = {"dangling": openai_project(rng), "reflog": anthropic(rng), "blob": github(rng),
         "staged": huggingface(rng), "live": github(rng)}
    r = make_repo("objs")
    r.write("app.py", f"TOKEN = '{s['live']}'\n")
    r.commit("init")
    r.write("notes/api.md", f"key: {s['dangling']}\n")
    r.commit("oops")
    dangling = r.git("rev-parse", "HEAD").strip()
    r.git("reset", "-q", "--hard", "HEAD~1")
    r.git("reflog", "expire", "--expire=now", "--all")
    r.write("cfg.py", f"K = '{s['reflog']}'\n")
    r.commit("reflog only")
    reflogged = r.git("rev-parse", "HEAD").strip()
    r.git("reset", "-q", "--hard", "HEAD~1")
    r.git("hash-object", "-w", "--stdin", input_text=f"{s['blob']}\n")
    r.write("wip.py", f"W = '{s['staged']}'\n")
    r.git("add", "wip.py")
    return r, s, dangling, reflogged


def test_unreachable_objects_are_found_and_attributed(make_repo, rng):
    """A dangling commit's blob keeps its path and commit (state unreachable), a reflog-only
    commit is history, a blob no commit names is reported by id with no path."""
    r, s, dangling, reflogged = build(make_repo, rng)
    assert dangling not in r.git("rev-list", "--all", "--reflog")
    result = run_scan([str(r.path)])
    [loc] = cred_of(result, s["dangling"]).locations
    assert (loc.path, loc.commit, loc.state, loc.line) == ("notes/api.md", dangling, "unreachable", 1)
    [loc] = cred_of(result, s["reflog"]).locations
    assert (loc.path, loc.commit, loc.state) == ("cfg.py", reflogged, "historical")
    [loc] = cred_of(result, s["blob"]).locations
    blob = r.git("hash-object", "--stdin", input_text=f"{s['blob']}\n").strip()
    assert loc.to_json() == {"source": "git", "repo": "acme/objs", "commit": None, "blob": blob,
                             "path": None, "line": 1, "state": "unreachable"}
    # the staged file is read from the working tree, not reported a second time as a lone blob
    assert [(l.path, l.state) for l in cred_of(result, s["staged"]).locations] == [("wip.py", "live")]
    assert [l.state for l in cred_of(result, s["live"]).locations] == ["live"]


def test_packed_unreachable_objects_are_found(make_repo, rng, tmp_path):
    """Unreachable objects that sit inside a pack, not loose."""
    r, s, dangling, _ = build(make_repo, rng)
    r.git("commit", "-q", "-m", "wip")
    every = r.git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    r.git("pack-objects", "-q", ".git/objects/pack/pack", input_text=every)
    r.git("prune-packed")
    loose = r.git("count-objects", "-v")
    assert "\ncount: 0\n" in "\n" + loose
    result = run_scan([str(r.path)])
    assert cred_of(result, s["dangling"]).locations[0].commit == dangling
    assert cred_of(result, s["blob"]).locations[0].state == "unreachable"


def _creds(hits):
    f = Findings()
    for match, locs in hits:
        f.add(match, locs)
    return f.credentials()


def test_fast_path_equals_chunk_path_with_unreachable_objects(make_repo, rng):
    """Streaming every object (fast path) and reading attributed blobs (chunk path) agree."""
    from detectors.loader import load_rules
    from scanner.engine import Engine

    r, s, _, _ = build(make_repo, rng)
    engine = Engine(load_rules())
    src = GitHistorySource(r.path)
    s1, s2 = ScanStats(), ScanStats()
    slow = _creds(scan_chunks(src.chunks(s1), engine, s1))
    fast = _creds(src.scan(engine, s2))
    assert fast == slow
    assert {c.fingerprint for c in fast} == {fingerprint(v) for v in s.values()}
    assert s1.to_json() == s2.to_json()


def test_rescan_carries_unreachable_findings_and_sees_new_ones(tmp_path, make_repo, rng):
    """Blob ids are remembered: a rescan reads nothing again and keeps every unreachable copy; a
    new dangling blob (no ref moved) is read and found."""
    r, s, _, _ = build(make_repo, rng)
    with Store(tmp_path / "s.db") as store:
        _, first = scan_and_record([str(r.path)], ScanOptions(), store)
        _, second = scan_and_record([str(r.path)], ScanOptions(), store)
        assert second.stats.blobs == 0
        as_json = lambda res: sorted(json.dumps([l.to_json() for l in c.locations])  # noqa: E731
                                     for c in res.credentials)
        assert as_json(first) == as_json(second)
        extra = github(rng)
        r.git("hash-object", "-w", "--stdin", input_text=f"{extra}\n")
        _, third = scan_and_record([str(r.path)], ScanOptions(), store)
    assert third.stats.blobs == 1
    assert cred_of(third, extra).locations[0].state == "unreachable"
    assert {c.fingerprint for c in third.credentials} >= {fingerprint(v) for v in s.values()}
