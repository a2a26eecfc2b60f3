"""The command line starts git's history walk and object listing before its imports
(`scanner.early`) only for a plain history scan of one repository; the scan adopts exactly those
commands (same git command line), anything else is stopped, and the result is the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tokens import github

from scanner import early, gitcmd
from scanner.cli import main as cli_main
from scanner.model import fingerprint
from scanner.pipeline import run_scan


@pytest.fixture
def repo(make_repo, rng):
    r = make_repo("early")
    r.secret = github(rng)
    r.write("app.py", f"TOKEN = '{r.secret}'\n")
    r.commit("one")
    return r


@pytest.fixture(autouse=True)
def nothing_left():
    yield
    assert early._STARTED == []


def test_only_a_plain_history_scan_of_one_repository_starts_anything(repo, tmp_path, monkeypatch):
    p = str(repo.path)
    plain = tmp_path / "plain"
    plain.mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {repo.path / '.git'}\n")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", p, str(bare)], check=True)
    starts = [["scan", p], ["scan", f"git:{p}"],
              ["scan", "--format", "json", "-o", "r.json", p], ["scan", "--format=sarif", p],
              ["scan", "-v", "--fail-on", "high", "--exclude", "*.md", "--rules", "r.toml", p],
              ["scan", "--max-file-size", "10", "--no-default-excludes", "--workers", "2", p],
              ["scan", "--", p]]
    for argv in starts:
        assert early.target(argv) == repo.path, argv
    assert early.target(["scan", str(bare)]) == bare
    none = [["scan"], ["scan", p, p], ["scan", "--staged", p], ["scan", "--diff", "A..B", p],
            ["scan", "--since-commit", "A", p], ["scan", "--no-history", p], ["scan", "--db", "x", p],
            ["scan", "--db=x", p], ["scan", "--scheduler", "tcp://h:1", p], ["scan", "--help", p],
            ["scan", "-oout.json", p], ["scan", "-o"], ["scan", "--verbose=1", p],
            ["scan", "--baseline", "b.json", p], ["scan", str(plain)], ["scan", str(linked)],
            ["scan", f"dir:{p}"], ["baseline", "create", "b.json", p], ["survivors", p], [],
            ["scan", "--format", p]]
    for argv in none:
        assert early.target(argv) is None, argv
    monkeypatch.setenv("SPRAWLSCAN_DB", str(tmp_path / "db.sqlite"))
    assert early.target(["scan", p]) is None


def test_allowed_options_are_scan_options_that_take_what_they_say():
    """`OPTIONS` follows the `scan` command: every name is one of its options, taking a value
    exactly when the command's does; none of those that choose how history is read is there."""
    command = cli_main.commands["scan"]
    takes = {name: not p.is_flag for p in command.params if hasattr(p, "is_flag")
             for name in p.opts + p.secondary_opts}
    assert {name: takes.get(name) for name in early.OPTIONS} == early.OPTIONS
    assert not {"--staged", "--diff", "--since-commit", "--no-history", "--db", "--scheduler",
                "--cache-dir", "--verify"} & early.OPTIONS.keys()


def test_the_scan_adopts_what_was_started_and_finds_the_same(repo, monkeypatch):
    made: list[tuple[str, ...]] = []
    real = early.Background

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, path, args, config):  # noqa: ANN001
            made.append(tuple(args))
            super().__init__(path, args, config)

    monkeypatch.setattr(early, "Background", Counting)
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "1")
    before = run_scan([str(repo.path)])
    assert made == [gitcmd.HISTORY_WALK]  # the scan's own walk; its listing runs to completion
    made.clear()
    early.start(["scan", str(repo.path)], gitcmd.HISTORY_READS)
    assert made == [gitcmd.HISTORY_WALK, gitcmd.OBJECT_LISTING] and len(early._STARTED) == 2
    after = run_scan([str(repo.path)])
    assert len(made) == 2 and early._STARTED == []  # adopted: nothing started again
    assert [c.fingerprint for c in after.credentials] == [c.fingerprint for c in before.credentials]
    assert fingerprint(repo.secret) in {c.fingerprint for c in after.credentials}


def test_what_the_scan_does_not_adopt_is_stopped(repo, make_repo):
    other = make_repo("other")
    other.write("a.txt", "nothing\n")
    other.commit("a")
    early.start(["scan", str(repo.path)], gitcmd.HISTORY_READS)
    started = list(early._STARTED)
    run_scan([str(other.path)])
    assert early._STARTED == [] and all(s.proc.poll() is not None for s in started)
    assert all(s.out.closed for s in started)


def test_a_failed_start_changes_nothing(repo, monkeypatch):
    def fail(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise OSError("no temporary folder")

    monkeypatch.setattr(early.Background, "__init__", fail)
    early.start(["scan", str(repo.path)], gitcmd.HISTORY_READS)
    assert early._STARTED == []


def test_the_command_line_runs_no_configured_program(repo, tmp_path):
    """The commands started ahead go through `gitcmd` like every other: an untrusted
    repository's fsmonitor, hooks, filter and diff drivers run neither before nor after."""
    marker = tmp_path / "ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    hook.chmod(0o755)
    repo.write(".gitattributes", "* filter=evil diff=evil\n")
    repo.commit("attrs")
    for key in ("core.fsmonitor", "filter.evil.process", "filter.evil.clean", "filter.evil.smudge",
                "diff.evil.textconv", "diff.external", "core.hooksPath", "gpg.program"):
        subprocess.run(["git", "-C", str(repo.path), "config", key, str(hook)], check=True)
    for target in (str(repo.path), f"git:{repo.path}"):
        out = tmp_path / "report.json"
        proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", "-o",
                               str(out), target], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert not marker.exists()
        found = {f["secret_sha256"] for f in json.loads(out.read_text())["findings"]}
        assert fingerprint(repo.secret) in found
