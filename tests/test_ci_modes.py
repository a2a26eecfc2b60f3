"""CI pre-merge modes on real repositories: `--staged`, `--diff BASE..HEAD`, `--since-commit`,
baselines and `--fail-on`, with the exit codes of STYLE.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner
from tokens import anthropic, github, openai_project

from scanner.cli import main
from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, run_scan


def scan_json(*args: str, cwd: str | None = None) -> tuple[int, dict]:
    if cwd:
        old = os.getcwd()
        os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, ["scan", "--format", "json", *args])
    finally:
        if cwd:
            os.chdir(old)
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.output)


def fps(doc: dict) -> set[str]:
    return {f["secret_sha256"] for f in doc["findings"]}


def test_staged_reports_only_what_the_next_commit_adds(make_repo, rng):
    """Staged new secret: reported; a committed secret in an edited file, an unstaged change and
    an untracked file: not."""
    old, new, unstaged, untracked = github(rng), openai_project(rng), github(rng), anthropic(rng)
    r = make_repo("st")
    r.write("conf.py", f"A = '{old}'\n")
    r.write("b.txt", "plain\n")
    r.commit("init")
    r.write("conf.py", f"A = '{old}'\nB = '{new}'\n")
    r.git("add", "conf.py")
    r.write("b.txt", f"{unstaged}\n")
    r.write("notes.txt", f"{untracked}\n")
    code, doc = scan_json("--staged", cwd=str(r.path))
    assert code == 1 and fps(doc) == {fingerprint(new)}
    [loc] = doc["findings"][0]["locations"]
    assert (loc["path"], loc["line"], loc["commit"], loc["state"]) == ("conf.py", 2, None, "live")
    r.git("reset", "-q")
    assert scan_json("--staged", str(r.path)) == (0, scan_json("--staged", str(r.path))[1])
    assert fps(scan_json("--staged", str(r.path))[1]) == set()


def test_renames_and_copies_add_no_content(make_repo, rng):
    """Moving or copying a file that holds a known secret is not a new leak, staged or in a range."""
    key = github(rng)
    r = make_repo("mv")
    r.write("old/k.env", f"T={key}\n")
    r.commit("k")
    base = r.git("rev-parse", "HEAD").strip()
    r.git("mv", "old", "new")
    r.write("copy.env", f"T={key}\n")
    r.git("add", "copy.env")
    code, doc = scan_json("--staged", str(r.path))
    assert code == 0 and doc["summary"]["skipped"] == {"unchanged-content": 2}
    r.commit("move")
    assert scan_json("--diff", f"{base}..HEAD", str(r.path))[0] == 0


def test_staged_from_a_sub_directory_scans_the_whole_index(make_repo, rng):
    """Run inside a sub-directory, `--staged` gates the repository's whole next commit."""
    key = github(rng)
    r = make_repo("sub")
    r.write("pkg/mod/x.py", "x = 1\n")
    r.commit("init")
    r.write("top.env", f"T={key}\n")
    r.git("add", "top.env")
    code, doc = scan_json("--staged", cwd=str(r.path / "pkg" / "mod"))
    assert code == 1 and fps(doc) == {fingerprint(key)}
    assert doc["findings"][0]["locations"][0]["path"] == "top.env"


def test_staged_in_a_repository_without_commits(make_repo, rng):
    """The very first commit is gated too."""
    key = github(rng)
    r = make_repo("fresh")
    r.write("k.txt", f"{key}\n")
    r.git("add", "k.txt")
    code, doc = scan_json("--staged", str(r.path))
    assert code == 1 and fps(doc) == {fingerprint(key)}


def pr_repo(make_repo, rng):
    """main: a known secret; branch `pr`: two commits each adding one; main moves on with its own
    secret, which the PR then merges in."""
    s = {"before": github(rng), "c1": openai_project(rng), "c2": github(rng), "main": anthropic(rng)}
    r = make_repo("pr")
    r.write("app.py", f"OLD = '{s['before']}'\n")
    r.commit("base")
    r.git("checkout", "-q", "-b", "pr")
    r.write("app.py", f"OLD = '{s['before']}'\nX = 1\n")
    r.write("a.py", f"K = '{s['c1']}'\n")
    r.commit("c1")
    c1 = r.git("rev-parse", "HEAD").strip()
    r.write("b.py", f"K = '{s['c2']}'\n")
    r.commit("c2")
    c2 = r.git("rev-parse", "HEAD").strip()
    r.git("checkout", "-q", "main")
    r.write("m.py", f"M = '{s['main']}'\n")
    r.commit("main moves on")
    r.git("checkout", "-q", "pr")
    r.git("merge", "-q", "--no-edit", "main")
    return r, s, c1, c2


def test_diff_reports_what_the_range_introduces_attributed_to_its_commits(make_repo, rng):
    """`--diff main..pr`: the PR's two secrets at their commits; not the base's, not main's merged
    in, not the one already in an edited file."""
    r, s, c1, c2 = pr_repo(make_repo, rng)
    code, doc = scan_json("--diff", "main..pr", str(r.path))
    assert code == 1
    got = {f["secret_sha256"]: [(l["path"], l["commit"]) for l in f["locations"]]
           for f in doc["findings"]}
    assert got == {fingerprint(s["c1"]): [("a.py", c1)], fingerprint(s["c2"]): [("b.py", c2)]}
    # after c1: c2, and main's commit too (merged in, and not an ancestor of c1)
    since = scan_json("--since-commit", c1, str(r.path))[1]
    assert fps(since) == {fingerprint(s["c2"]), fingerprint(s["main"])}
    assert scan_json("--diff", "pr..pr", str(r.path)) == (0, scan_json("--diff", "pr..pr", str(r.path))[1])


def test_diff_finds_a_secret_added_while_resolving_a_merge(make_repo, rng):
    """A merge commit that introduces content of its own (a conflict resolution) is scanned."""
    key = github(rng)
    r = make_repo("conflict")
    r.write("f.txt", "base\n")
    r.commit("base")
    base = r.git("rev-parse", "HEAD").strip()
    r.git("checkout", "-q", "-b", "side")
    r.write("f.txt", "side\n")
    r.commit("side")
    r.git("checkout", "-q", "main")
    r.write("f.txt", "main\n")
    r.commit("main")
    subprocess.run(["git", "-C", str(r.path), "merge", "-q", "side"], capture_output=True,
                   check=False)
    r.write("f.txt", f"resolved {key}\n")
    r.commit("merge side")
    merge = r.git("rev-parse", "HEAD").strip()
    result = run_scan([str(r.path)], ScanOptions(rev_range=f"{base}..HEAD"))
    [cred] = result.credentials
    assert cred.fingerprint == fingerprint(key) and cred.locations[0].commit == merge


def test_bad_ranges_and_modes_are_usage_errors(make_repo, tmp_path):
    """Unknown revisions, malformed ranges, a plain directory or two modes at once: exit 2."""
    r = make_repo("x")
    r.write("a", "a\n")
    r.commit("a")
    for args in (["--diff", "nope..HEAD", str(r.path)], ["--diff", "HEAD", str(r.path)],
                 ["--staged", str(tmp_path)], ["--staged", "--diff", "HEAD..HEAD", str(r.path)],
                 []):
        p = subprocess.run([sys.executable, "-m", "scanner", "scan", *args], capture_output=True,
                           text=True, cwd=os.getcwd(), check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_baseline_hides_known_credentials(make_repo, rng, tmp_path):
    """`baseline create` then `--baseline`: only what is new is reported, the rest counted."""
    known, new = github(rng), openai_project(rng)
    r = make_repo("bl")
    r.write("k.txt", f"{known}\n")
    r.commit("k")
    base = tmp_path / "baseline.txt"
    res = CliRunner().invoke(main, ["baseline", "create", str(base), str(r.path)])
    assert res.exit_code == 0, res.output
    assert fingerprint(known) in base.read_text() and known not in base.read_text()
    code, doc = scan_json("--baseline", str(base), str(r.path))
    assert code == 0 and doc["findings"] == [] and doc["summary"]["skipped"]["baseline"] == 1
    r.write("n.txt", f"{new}\n")
    r.commit("n")
    code, doc = scan_json("--baseline", str(base), str(r.path))
    assert code == 1 and fps(doc) == {fingerprint(new)}
    bad = tmp_path / "bad.txt"
    bad.write_text("not-a-fingerprint\n")
    res = CliRunner().invoke(main, ["scan", "--baseline", str(bad), str(r.path)])
    assert res.exit_code == 2 and "bad.txt: not a SHA-256 fingerprint" in res.output


def test_fail_on_uses_rule_severity(tmp_path):
    """A low-severity finding fails `--fail-on low`, passes `--fail-on medium`; incomplete wins."""
    rule = tmp_path / "low.toml"
    rule.write_text("[[rule]]\nid='acme.low'\nprovider='acme'\nseverity='low'\n"
                    "pattern='(acme_[a-z0-9]{12})'\nkeywords=['acme_']\nexamples=['acme_k3jq9zr2x8vb']\n")
    d = tmp_path / "d"
    d.mkdir()
    (d / "t.txt").write_text("acme_k3jq9zr2x8vb\n")
    base = ["scan", "--format", "json", "--rules", str(rule), str(d)]
    assert CliRunner().invoke(main, base).exit_code == 1
    assert CliRunner().invoke(main, base + ["--fail-on", "low"]).exit_code == 1
    assert CliRunner().invoke(main, base + ["--fail-on", "medium"]).exit_code == 0
    assert CliRunner().invoke(main, base + ["--fail-on", "critical"]).exit_code == 0
    assert CliRunner().invoke(main, base + ["--fail-on", "bogus"]).exit_code == 2


def test_staged_scan_recorded_in_the_store_never_retires(make_repo, rng, tmp_path):
    """A CI-mode scan can be recorded; it only adds (mode `staged`), it never marks gone."""
    from scanner.store import Store

    key, other = github(rng), github(rng)
    r = make_repo("rec")
    r.write("a.txt", f"{key}\n")
    r.commit("a")
    db = tmp_path / "s.db"
    assert CliRunner().invoke(main, ["scan", "--db", str(db), str(r.path)]).exit_code == 1
    r.write("b.txt", f"{other}\n")
    r.git("add", "b.txt")
    assert CliRunner().invoke(main, ["scan", "--db", str(db), "--staged", str(r.path)]).exit_code == 1
    with Store(db) as store:
        assert [s.mode for s in store.scans()] == ["full", "staged"]
        assert store.credential_status(fingerprint(key)) == "active"
        assert store.credential_status(fingerprint(other)) == "active"


def test_partial_clone_missing_blob_loses_nothing_else(make_repo, rng, httpserver):
    """In a partial clone, a blob git would have to fetch is one `missing-object` skip and the
    blobs listed after it are still read, so the gate still fails on the credential. (git's
    `cat-file --batch-check` sometimes dies there, killed by SIGPIPE when the refused lazy fetch
    exits first; it then drops every id after the missing one: they are asked again.)"""
    from werkzeug import Response

    httpserver.expect_request("/denied.git/info/refs").respond_with_handler(
        lambda r: Response("denied", status=401, headers={"WWW-Authenticate": 'Basic realm="x"'}))
    token = github(rng)
    r = make_repo("partial")
    r.write("README.md", "hello\n")
    r.commit("base")
    base = r.git("rev-parse", "HEAD").strip()
    r.write("conf.env", f"TOKEN={token}\n")
    cred_blob = r.git("hash-object", "conf.env").strip()
    n = 0
    while True:   # a lost blob that sorts before the credential's, so git dies before reaching it
        r.write("lost.txt", f"only a lazy fetch could bring this back {n}\n")
        lost = r.git("hash-object", "lost.txt").strip()
        if lost < cred_blob:
            break
        n += 1
    r.commit("add")
    r.git("cat-file", "-e", lost)
    (r.path / ".git" / "objects" / lost[:2] / lost[2:]).unlink()
    for key, value in (("core.repositoryformatversion", "1"), ("extensions.partialClone", "origin"),
                       ("remote.origin.promisor", "true"),
                       ("remote.origin.url", httpserver.url_for("/denied.git"))):
        r.git("config", key, value)
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--diff", f"{base}..HEAD", str(r.path)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    assert [f["secret_sha256"] for f in doc["findings"]] == [fingerprint(token)]
    assert doc["summary"]["skipped"]["missing-object"] == 1
