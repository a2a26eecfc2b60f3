"""The history scan's C-level parsers give exactly what the field-by-field walks they replaced gave:
`parse_log_raw` against that walk on generated `git log -c --raw -z` output (truncated and
malformed fields included), `Listing.parse` against a line split, and a real repository's walk
started ahead of the scan (`Walk`) against `git log` run afterwards."""

from __future__ import annotations

import re
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.model import ScanStats
from scanner import gitcmd
from scanner.sources.git_history import (EMPTY_BLOB_B, WALK, Attribution, GitHistorySource, Listing,
                                         Walk, git, parse_log_raw)

_RAW = re.compile(rb":+(?:[0-7]{6} )+(?:[0-9a-f]{40} )+([0-9a-f]{40}) ([A-Z]+)")


def field_walk(out: bytes, attribution: Attribution, facts: dict | None = None) -> None:
    """The parser as it was before (main 456dbc0): split on NUL, one field at a time."""
    fields = out.split(b"\0")
    i, n = 0, len(fields)
    commit = None
    while i < n:
        f = fields[i].lstrip(b"\n")
        i += 1
        if f.startswith(b":"):
            path = fields[i] if i < n else b""
            i += 1
            m = _RAW.fullmatch(f)
            if m is None or commit is None:
                continue
            new, status = m.groups()
            if new != EMPTY_BLOB_B and (b"A" in status or b"M" in status or b"T" in status):
                attribution.add(new.decode(), path.decode("utf-8", "surrogateescape"), commit)
        elif f.startswith(b"\x01"):
            commit = f[1:].strip().decode("ascii", "replace")
            if facts is not None and i + 1 < n:
                facts[commit] = (("author", fields[i].decode("utf-8", "replace")),
                                 ("date", fields[i + 1].strip().decode("ascii", "replace")))
            if facts is not None:
                i += 2


_hex = st.text("0123456789abcdef", min_size=40, max_size=40).map(str.encode)
_sha = st.one_of(_hex, st.just(EMPTY_BLOB_B), st.sampled_from([b"1" * 40, b"2" * 40]))
_status = st.sampled_from([b"A", b"M", b"D", b"T", b"MM", b"AM", b"R100", b"x"])
_raw = st.builds(lambda colons, nl, a, b, s: nl + colons + b"100644 100644 " + a + b" " + b + b" " + s,
                 st.sampled_from([b":", b"::"]), st.sampled_from([b"", b"\n", b"\n\n"]), _sha, _sha,
                 _status)
_header = st.builds(lambda nl, h, sp: nl + b"\x01" + h + sp, st.sampled_from([b"", b"\n"]),
                    st.one_of(_hex, st.just(b""), st.just(b"\x01x")), st.sampled_from([b"", b" "]))
_other = st.one_of(st.sampled_from([b"a.yml", b"x/\x01b.py", b":c", b"\n", b"", "é/ü".encode(),
                                    b"\xff\xfe", b"Name <a@b>", b"2024-01-01T00:00:00Z", b":junk"]),
                   st.binary(max_size=6))
_field = st.one_of(_raw, _header, _other)


@settings(max_examples=400, deadline=None)
@given(st.lists(_field, max_size=16), st.sampled_from([b"", b"\0", b"\n", b"\0\n"]))
def test_log_parser_is_the_field_walk(fields, end):
    """Same blobs, paths (in the same order), first commits and commit facts as the field walk,
    in both formats, on any sequence of fields."""
    out = b"\0".join(fields) + end
    for facts in (None, {}):
        want, got = Attribution(), Attribution()
        want_facts = None if facts is None else {}
        got_facts = None if facts is None else {}
        field_walk(out, want, want_facts)
        parse_log_raw(out, got, got_facts)
        assert [(s, list(p.items())) for s, p in got.first.items()] == \
               [(s, list(p.items())) for s, p in want.first.items()]
        assert got_facts == want_facts


def test_listing_keeps_blobs_and_commits_in_pack_order():
    """Blobs with their sizes and commits, in listed order; trees, tags and junk lines left out."""
    out = (b"blob" + b"a" * 40 + b" 12\n" + b"tree" + b"b" * 40 + b" 30\n" + b"commit" + b"c" * 40
           + b" 200\n" + b"blob" + b"d" * 40 + b" 0\n" + b"tag" + b"e" * 40 + b" 99\nnot a line\n"
           + b"blob" + b"f" * 64 + b" 7\n")
    listing = Listing.parse(out)
    assert listing.blobs == [("a" * 40, 12), ("d" * 40, 0), ("f" * 64, 7)]
    assert listing.commits == ["c" * 40]


def test_listing_parse_reads_what_git_lists(tmp_path):
    """On a real repository, the parse gives each blob's id and size and each commit's id as
    `git cat-file --batch-check` states them, in git's order."""
    repo = _repo(tmp_path)
    out = subprocess.run(["git", "-C", str(repo), *gitcmd.OBJECT_LISTING], capture_output=True,
                         check=True).stdout
    listing = Listing.parse(out)
    check = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects", "--unordered",
                            "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                           capture_output=True, check=True, text=True).stdout.split("\n")
    lines = [line.split(" ") for line in check if line]
    assert listing.blobs == [(i, int(n)) for i, t, n in lines if t == "blob"] and listing.blobs
    assert listing.commits == [i for i, t, _ in lines if t == "commit"] and len(listing.commits) == 3


def _repo(tmp_path):
    def run(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)
    run("init", "-q", "-b", "main")
    run("config", "user.email", "a@example.com")
    run("config", "user.name", "A")
    for i in range(3):
        (tmp_path / f"f{i}.yml").write_text(f"k: {i}\n")
        run("add", ".")
        run("commit", "-qm", f"c{i}")
    return tmp_path


def test_walk_started_ahead_reads_what_git_log_gives(tmp_path):
    """The walk started before the scan lists anything reads the same output as `git log`."""
    repo = _repo(tmp_path)
    walk = Walk(repo)
    assert walk.output() == git(repo, *WALK)
    src = GitHistorySource(repo)
    ahead = src.attribution(ScanStats(), walk=Walk(repo), listing=src.list_objects(ScanStats()))
    assert ahead.first == GitHistorySource(repo).attribution(ScanStats()).first
    assert len(ahead.first) == 3


def test_walk_failure_is_a_git_error_naming_the_command(tmp_path):
    """A walk git refuses raises GitError with git's first error line, as `git()` would."""
    import pytest

    from scanner.sources.git_history import GitError

    (tmp_path / "objects").mkdir()
    (tmp_path / "HEAD").write_text("junk\n")
    with pytest.raises(GitError, match=r"^git log failed in "):
        Walk(tmp_path).output()


def _wanted_reference(first, text_blobs, bind):
    """`structured_wanted` as `structured_hits` computed it before (kept as the reference)."""
    from scanner.manifests import BINDING_NAMES, kind_of

    def wants(sha, path):
        k = kind_of(path)
        return bool(k) and (bind is None or sha in bind or k not in BINDING_NAMES)

    wanted = {}
    for sha, paths in first.items():
        if sha in text_blobs:
            path = next((p for p in paths if wants(sha, p)), None)
            if path is not None:
                wanted[sha] = path
    return wanted


_PATHS = ["a.py", "b.json", "deploy.yml", ".env", "x/settings.json", "README.md", "c.ts",
          "k8s/secret.yaml", "package.json", ".mcp.json", "img.png", "docker-compose.yml"]


@given(st.dictionaries(st.sampled_from("0123456789"), st.lists(st.sampled_from(_PATHS), unique=True),
                       max_size=10),
       st.sets(st.sampled_from("0123456789")), st.none() | st.sets(st.sampled_from("0123456789")))
@settings(max_examples=300, deadline=None)
def test_structured_selection_equals_the_reference(first, text, bind):
    from scanner.sources.git_history import structured_wanted

    attr = {sha: dict.fromkeys(paths) for sha, paths in first.items()}
    assert structured_wanted(attr, text, bind) == _wanted_reference(attr, text, bind)
