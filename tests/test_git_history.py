"""Full-history scanning on real repositories made with git: every ref, every blob once, each
copy attributed to its path and first commit, live vs historical."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.git_history import GitHistorySource, repo_name
from tokens import anthropic, github, huggingface, openai_project


def by_secret(result, secret):
    from scanner.model import fingerprint

    fp = fingerprint(secret)
    found = [c for c in result.credentials if c.fingerprint == fp]
    assert len(found) == 1, f"expected one credential, got {len(found)}"
    return found[0]


def test_deleted_secret_is_found_in_history_with_introducing_commit(make_repo, rng):
    key = openai_project(rng)
    r = make_repo("svc")
    r.write("app.py", "x = 1\n")
    r.commit("init")
    r.write("app.py", f"x = 1\nKEY = '{key}'\n")
    r.commit("add key")
    introducing = r.git("rev-parse", "HEAD").strip()
    r.write("app.py", "x = 1\n")
    r.commit("remove key")
    cred = by_secret(run_scan([str(r.path)]), key)
    [loc] = cred.locations
    assert (loc.source, loc.container, loc.path, loc.line, loc.commit, loc.state) == \
        ("git", "acme/svc", "app.py", 2, introducing, "historical")


def test_side_branch_tag_only_and_live_copies(make_repo, rng):
    side, tagged, live = anthropic(rng), huggingface(rng), github(rng)
    r = make_repo("agent")
    r.write("live.env", f"GH={live}\n")
    r.commit("init")
    r.git("checkout", "-q", "-b", "side")
    r.write("side.py", f"K = '{side}'\n")
    r.commit("side work")
    r.git("checkout", "-q", "--detach", "main")
    r.write("tagged.py", f"T = '{tagged}'\n")
    r.commit("tag only")
    r.git("tag", "-a", "v1", "-m", "release")
    r.git("checkout", "-q", "main")
    result = run_scan([str(r.path)])
    assert by_secret(result, side).locations[0].path == "side.py"
    assert by_secret(result, side).locations[0].state == "historical"
    assert by_secret(result, tagged).locations[0].path == "tagged.py"
    assert by_secret(result, live).locations[0].state == "live"
    assert len(result.credentials) == 3


def test_blob_introduced_only_by_a_merge_commit(make_repo, rng):
    a, b, merged = github(rng), github(rng), github(rng)
    r = make_repo("m")
    r.write("conf.txt", "base\n")
    r.commit("init")
    r.git("checkout", "-q", "-b", "feature")
    r.write("conf.txt", f"feature {a}\n")
    r.commit("feature")
    r.git("checkout", "-q", "main")
    r.write("conf.txt", f"main {b}\n")
    r.commit("main")
    subprocess.run(["git", "-C", str(r.path), "merge", "-q", "feature"], capture_output=True)
    r.write("conf.txt", f"resolved {merged}\n")
    r.commit("merge feature")
    merge_commit = r.git("rev-parse", "HEAD").strip()
    assert len(r.git("log", "-1", "--format=%P").split()) == 2
    cred = by_secret(run_scan([str(r.path)]), merged)
    assert [(loc.commit, loc.state) for loc in cred.locations] == [(merge_commit, "live")]


def test_renamed_file_keeps_every_path_and_blob_is_scanned_once(make_repo, rng):
    key = github(rng)
    r = make_repo("ren")
    r.write("old/name.txt", f"token {key}\n")
    r.commit("add")
    (r.path / "new").mkdir()
    r.git("mv", "old/name.txt", "new/name.txt")
    r.commit("rename")
    src = GitHistorySource(r.path)
    stats = ScanStats()
    chunks = list(src.chunks(stats))
    assert stats.blobs == 1 and len(chunks) == 1
    cred = by_secret(run_scan([str(r.path)]), key)
    assert {(loc.path, loc.state) for loc in cred.locations} == \
        {("old/name.txt", "historical"), ("new/name.txt", "live")}


def test_binary_blob_is_skipped_and_counted(make_repo, rng):
    r = make_repo("bin")
    r.write("a.txt", "x\n")
    (r.path / "blob.bin").write_bytes(b"\0\1\2" + github(rng).encode())
    r.commit("add")
    result = run_scan([str(r.path)])
    assert result.credentials == ()
    assert result.stats.skipped == {"binary": 1}


def test_oversize_blob_is_skipped_and_counted(make_repo, rng):
    r = make_repo("big")
    r.write("big.txt", github(rng) + "\n" + "a" * 5000)
    r.commit("add")
    result = run_scan([str(r.path)], ScanOptions(max_file_size=1000))
    assert result.credentials == () and result.stats.skipped == {"too-large": 1}


def test_notebook_output_secret_is_found(make_repo, rng):
    key = huggingface(rng)
    nb = {"cells": [{"cell_type": "code", "source": ["print(tok)"], "outputs": [
        {"output_type": "stream", "name": "stdout", "text": [f"using \"{key}\"\n"]}]}],
        "nbformat": 4, "nbformat_minor": 5, "metadata": {}}
    r = make_repo("nb")
    text = json.dumps(nb, indent=1)
    r.write("a.ipynb", text)
    r.commit("nb")
    cred = by_secret(run_scan([str(r.path)]), key)
    expected_line = next(i for i, ln in enumerate(text.splitlines(), 1) if key in ln)
    assert '\\"' in text.splitlines()[expected_line - 1]  # the key sits between JSON escapes
    assert (cred.locations[0].path, cred.locations[0].line) == ("a.ipynb", expected_line)


def test_dedup_across_repositories_and_files(make_repo, rng, tmp_path):
    key = openai_project(rng)
    r1, r2 = make_repo("one"), make_repo("two")
    for r in (r1, r2):
        r.write("k.py", f"K = '{key}'\n")
        r.commit("k")
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / ".env").write_text(f"OPENAI_API_KEY={key}\n")
    result = run_scan([str(r1.path), str(r2.path), str(loose)])
    cred = by_secret(result, key)
    assert {(loc.source, loc.container) for loc in cred.locations} == \
        {("git", "acme/one"), ("git", "acme/two"), ("file", str(loose))}


def test_uncommitted_working_tree_is_scanned(make_repo, rng):
    staged, untracked = github(rng), github(rng)
    r = make_repo("wt")
    r.write("a.txt", "x\n")
    r.commit("init")
    r.write("a.txt", f"x {staged}\n")
    r.write("notes/todo.txt", f"{untracked}\n")
    result = run_scan([str(r.path)])
    for key, path in ((staged, "a.txt"), (untracked, "notes/todo.txt")):
        [loc] = by_secret(result, key).locations
        assert (loc.path, loc.commit, loc.state) == (path, None, "live")


def test_no_history_scans_only_the_working_tree(make_repo, rng):
    gone = github(rng)
    r = make_repo("nh")
    r.write("a.txt", f"{gone}\n")
    r.commit("a")
    r.write("a.txt", "clean\n")
    r.commit("b")
    assert run_scan([str(r.path)]).credentials
    assert run_scan([str(r.path)], ScanOptions(history=False)).credentials == ()


def test_bare_clone_is_scanned(make_repo, rng, tmp_path):
    key = github(rng)
    r = make_repo("src")
    r.write("a.txt", f"{key}\n")
    r.commit("a")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(r.path), str(bare)], check=True)
    cred = by_secret(run_scan([str(bare)]), key)
    assert cred.locations[0].container == "src"  # named after its origin, a local path


@pytest.mark.parametrize("url,name", [
    ("https://github.com/acme/x.git", "acme/x"),
    ("git@github.com:acme/x.git", "acme/x"),
    ("https://gitlab.example.com/acme/agents/support.git", "acme/agents/support"),
    ("ssh://git@gitlab.example.com/acme/agents/support", "acme/agents/support"),
    ("/srv/mirrors/thing.git", "thing"),
])
def test_repo_name_from_origin(make_repo, url, name):
    r = make_repo("folder", origin=url)
    assert repo_name(r.path) == name


def test_repo_name_without_origin_is_the_folder(make_repo):
    r = make_repo("folder")
    r.git("remote", "remove", "origin")
    assert repo_name(r.path) == "folder"


def test_corrupt_repository_is_incomplete_not_a_crash(make_repo, rng):
    r = make_repo("bad")
    r.write("a.txt", f"{github(rng)}\n")
    r.commit("a")
    (r.path / ".git" / "refs" / "heads" / "main").write_text("1" * 40 + "\n")
    result = run_scan([str(r.path)])
    assert result.incomplete
    assert "acme/bad" in result.stats.errors[0]


def test_missing_object_is_a_counted_skip(make_repo, rng):
    key = github(rng)
    r = make_repo("miss")
    r.write("a.txt", "plain\n")
    r.write("b.txt", f"{key}\n")
    r.commit("a")
    blob = r.git("rev-parse", "HEAD:a.txt").strip()
    (r.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    result = run_scan([str(r.path)], ScanOptions())
    assert result.stats.skipped.get("missing-object", 0) >= 1
    assert by_secret(result, key)


def test_shallow_clone_marks_the_scan_incomplete(make_repo, rng, tmp_path):
    r = make_repo("deep")
    for i in range(3):
        r.write("a.txt", f"{i}\n")
        r.commit(f"c{i}")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{r.path}", str(shallow)], check=True)
    result = run_scan([str(shallow)])
    assert result.incomplete and "shallow" in result.stats.errors[0]
    shutil.rmtree(shallow)


def _findings(hits):
    from scanner.findings import Findings

    f = Findings()
    for match, locs in hits:
        f.add(match, locs)
    return f.credentials()


def test_fast_path_finds_exactly_what_the_chunk_path_finds(make_repo, rng, tmp_path):
    """GitHistorySource.scan (streamed object database, concurrent discovery) vs chunks()."""
    from detectors.loader import load_rules
    from scanner.engine import Engine
    from scanner.sources.base import scan_chunks

    r = make_repo("eq")
    keys = [github(rng) for _ in range(6)]
    r.write("a.txt", f"{keys[0]}\n")
    r.commit("a")
    r.git("checkout", "-q", "-b", "side")
    r.write("b.json", json.dumps({"k": f"x\n{keys[1]}"}))
    r.commit("b")
    r.git("checkout", "-q", "main")
    r.write("a.txt", f"{keys[2]}\n")
    (r.path / "bin.dat").write_bytes(b"\0" + keys[3].encode())
    r.commit("c")
    r.git("tag", "t1", r.git("hash-object", "-w", "--stdin", input_text=f"{keys[4]}\n").strip())
    r.write("big.txt", keys[5] + "\n" + "z" * 3000)
    r.commit("big")
    # an unreachable blob is reported by both paths, by id (tests/test_git_unreachable.py)
    lone = github(rng)
    r.git("hash-object", "-w", "--stdin", input_text=f"{lone}\n")
    engine = Engine(load_rules())
    src = GitHistorySource(r.path, __import__("scanner.sources.base", fromlist=["x"]).SourceOptions(
        max_file_size=2000))
    s1, s2 = ScanStats(), ScanStats()
    slow = _findings(scan_chunks(src.chunks(s1), engine, s1))
    fast = _findings(src.scan(engine, s2))
    assert fast == slow
    assert len(fast) == 5  # keys 0, 1, 2, 4 (a tag on a bare blob), lone; 3 binary, 5 too large
    assert next(c for c in fast if c.fingerprint == fingerprint(lone)).locations[0].state == "unreachable"
    tagged = next(c for c in fast if c.fingerprint == fingerprint(keys[4]))
    assert [(loc.path, loc.commit) for loc in tagged.locations] == [("refs/tags/t1", None)]
    assert s1.to_json() == s2.to_json()


def test_fast_path_on_the_demo_org_equals_chunk_path(demo_org):
    from detectors.loader import load_rules
    from scanner.engine import Engine
    from scanner.sources.base import scan_chunks

    engine = Engine(load_rules())
    for repo in sorted((demo_org / "repos").iterdir()):
        src = GitHistorySource(repo)
        s1, s2 = ScanStats(), ScanStats()
        assert _findings(src.scan(engine, s2)) == _findings(scan_chunks(src.chunks(s1), engine, s1))
        assert s1.to_json() == s2.to_json()


def test_author_name_holding_the_header_mark_cannot_fake_a_commit(make_repo, rng):
    """The attribution walk also reads each commit's author and date (no second `git log` for
    `commit_facts`); an author name holding the walk's header mark and a commit-like id does not
    move the blob to a made-up commit: location and author are the real ones."""
    key = openai_project(rng)
    fake = "0123456789abcdef0123456789abcdef01234567"
    r = make_repo("svc")
    r.write("app.py", "x = 1\n")
    r.commit("init")
    r.write("app.py", f"x = 1\nKEY = '{key}'\n")
    r.git("add", "app.py")
    r.git("commit", "-q", "-m", "add key", f"--author=Eve\x01{fake} <eve@acme.test>")
    introducing = r.git("rev-parse", "HEAD").strip()
    source = GitHistorySource(r.path)
    attr = source.attribution(ScanStats())
    assert source._meta is not None and introducing in source._meta  # filled by the same walk
    [loc] = by_secret(run_scan([str(r.path)]), key).locations
    assert loc.commit == introducing
    facts = dict(loc.attributes)
    assert facts["author"] == f"Eve\x01{fake} <eve@acme.test>" and facts["date"].startswith("20")
    assert all(fake not in paths.values() for paths in attr.first.values())
