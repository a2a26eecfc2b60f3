"""User rules run with a time limit: a catastrophically backtracking rule is dropped for the file
it stalls on, named once per (rule, file) in the report, and the scan finishes with its other
findings, on files and on git history scanned by the worker pool."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.engine import Engine, rule_timeout
from scanner.errors import ConfigError
from scanner.model import fingerprint
from tokens import github
from detectors.loader import load_rules, parse_rule_file

# nested repetition of overlapping alternatives: exponential backtracking when no `!` follows
BAD_RULE = '''
[[rule]]
id = "acme.slow"
provider = "acme"
pattern = 'pw=((?:[a-z]|[a-z0-9])+)+!'
keywords = ["pw="]
examples = ["pw=abcdef!"]
'''
BAD_LINE = "pw=" + "a" * 94 + "?"  # 98 characters: without a limit this runs for hours
# ... and a match later on the line, so the rule's Hyperscan gate (which sees that no `!` follows
# the run) lets the regex run at all
BAD_LINE += " pw=ok!"


def _rules(tmp_path):
    path = tmp_path / "slow.toml"
    path.write_text(BAD_RULE)
    return path


def _json(args):
    start = time.monotonic()
    res = CliRunner().invoke(main, ["scan", *args])
    return res, time.monotonic() - start


@pytest.fixture(autouse=True)
def short_limit(monkeypatch):
    monkeypatch.setenv("SPRAWLSCAN_RULE_TIMEOUT", "0.2")


def test_backtracking_rule_is_skipped_on_its_file_and_reported(tmp_path, rng):
    """A 98-character line that stalls a user rule: the scan ends within seconds, the other
    file's token and the rule's own match elsewhere are found, and the skip is counted once per
    (rule, file) in JSON and named in the table."""
    token = github(rng)
    src = tmp_path / "src"
    src.mkdir()
    (src / "slow.txt").write_text(f"{BAD_LINE}\n{BAD_LINE}\nGITHUB_TOKEN={token}\n")
    (src / "ok.txt").write_text("pw=hunter!\n")
    (src / "app.env").write_text(f"GITHUB_TOKEN={token}\n")
    res, took = _json(["--format", "json", "--rules", str(_rules(tmp_path)), str(src)])
    assert res.exit_code == 1, res.output
    assert took < 30
    report = json.loads(res.output)
    found = {f.get("secret_sha256") or f["secret_hmac"]: f for f in report["findings"]}
    assert fingerprint(token) in found
    assert {loc["path"] for loc in found[fingerprint(token)]["locations"]} == {"slow.txt", "app.env"}
    assert fingerprint("hunter") in found  # the rule still ran on the file it did not stall on
    stats = report["summary"]
    assert stats["skipped"]["rule-timeout"] == 1
    assert len(stats["warnings"]) == 1 and "acme.slow" in stats["warnings"][0]
    assert "slow.txt" in stats["warnings"][0]
    assert res.exit_code == 1 and "errors" in stats and not stats["errors"]  # complete scan
    table, _ = _json(["--format", "table", "--rules", str(_rules(tmp_path)), str(src)])
    assert "rule-timeout=1" in table.output
    assert "WARNING: rule acme.slow ran out of time on" in table.output


def test_backtracking_rule_in_git_history_on_the_worker_pool(make_repo, rng, monkeypatch, tmp_path):
    """History scanned by 2 worker processes: the timeout comes back from the worker with the
    segment's results, names the blob's path, and the other commits' tokens are all found."""
    from scanner.sources import git_history

    monkeypatch.setattr(git_history, "POOL_AFTER", 0)
    monkeypatch.setattr(git_history, "SEGMENT_BYTES", 64)
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "2")
    repo = make_repo("hist")
    tokens = [github(rng) for _ in range(6)]
    for i, token in enumerate(tokens):
        repo.write(f"conf{i}.env", f"GITHUB_TOKEN={token}\n")
        repo.commit(f"add conf{i}", f"conf{i}.env")
    repo.write("notes/slow.txt", f"{BAD_LINE}\n")
    repo.commit("slow", "notes/slow.txt")
    repo.git("rm", "-q", "notes/slow.txt")
    repo.git("commit", "-q", "-m", "remove")
    segments = list(git_history.GitHistorySource(repo.path).segments(
        git_history.GitHistorySource(repo.path).list_blobs(git_history.ScanStats())))
    assert len(segments) > 3  # the pool really gets several tasks
    res, took = _json(["--format", "json", "--rules", str(_rules(tmp_path)), str(repo.path)])
    assert res.exit_code == 1, res.output
    assert took < 60
    report = json.loads(res.output)
    assert {fingerprint(t) for t in tokens} <= {f["secret_sha256"] for f in report["findings"]}
    assert report["summary"]["skipped"]["rule-timeout"] == 1
    assert report["summary"]["warnings"] == [
        "rule acme.slow ran out of time on git acme/hist:notes/slow.txt: skipped there"]


def test_catalogue_rules_run_without_a_limit_user_rules_with_one(tmp_path):
    """The shipped rules get no time limit (tested data, and the bookkeeping costs every window);
    a rule from a user file gets the configured one."""
    engine = Engine(load_rules([_rules(tmp_path)], cache=False))
    limits = {c.rule.id: c.timeout for c in engine.rules}
    assert limits.pop("acme.slow") == 0.2
    assert set(limits.values()) == {None}


def test_engine_drops_the_rule_for_the_chunk_only(tmp_path):
    """The engine names the timed-out rule once, and runs it again on the next chunk."""
    engine = Engine(parse_rule_file(_rules(tmp_path)))
    assert engine.scan(f"{BAD_LINE}\n{BAD_LINE}\n".encode()) == []
    assert engine.take_timeouts() == ["acme.slow"]
    assert engine.take_timeouts() == []
    assert [m.secret for m in engine.scan(b"pw=abcdef!\n")] == ["abcdef"]
    assert engine.take_timeouts() == []


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf"])
def test_bad_timeout_setting_is_a_config_error(monkeypatch, raw):
    """A limit that is no positive number of seconds is refused with the variable's name."""
    monkeypatch.setenv("SPRAWLSCAN_RULE_TIMEOUT", raw)
    with pytest.raises(ConfigError, match="SPRAWLSCAN_RULE_TIMEOUT"):
        rule_timeout()


def test_timeout_warning_in_sarif_and_markdown(tmp_path):
    """SARIF carries the timeout as a warning notification of the run, Markdown as a note."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "slow.txt").write_text(f"{BAD_LINE}\n")
    sarif, _ = _json(["--format", "sarif", "--rules", str(_rules(tmp_path)), str(src)])
    notes = json.loads(sarif.output)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [(n["level"], "acme.slow" in n["message"]["text"]) for n in notes] == [("warning", True)]
    md, _ = _json(["--format", "markdown", "--rules", str(_rules(tmp_path)), str(src)])
    assert "warning: rule acme.slow ran out of time on" in md.output
