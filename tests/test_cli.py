"""The CLI contract: JSON shape, exit codes, one-line errors, no secret in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.model import fingerprint
from tokens import github, openai_project


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})


def test_json_shape_is_exact(make_repo, rng, tmp_path):
    key = openai_project(rng)
    r = make_repo("shape")
    r.write("a/b.py", f"x = 1\nK = '{key}'\n")
    r.commit("k")
    commit = r.git("rev-parse", "HEAD").strip()
    r.write("a/b.py", "x = 1\n")
    r.commit("rm")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / ".env").write_text(f"A=1\nB=2\nOPENAI_API_KEY={key}\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(r.path), str(tmp_path / "config")])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    assert doc["tool"] == "sprawlscan" and doc["incomplete"] is False and doc["version"]
    [finding] = doc["findings"]
    assert finding["secret_sha256"] == fingerprint(key)
    assert (finding["rule_id"], finding["provider"], finding["redacted"]) == \
        ("openai.project", "openai", "sk-pro…(164)")
    assert finding["locations"] == [
        {"source": "file", "container": str(tmp_path / "config"), "path": ".env", "line": 3,
         "state": "live"},
        {"source": "git", "repo": "acme/shape", "commit": commit, "path": "a/b.py", "line": 2,
         "state": "historical", "attributes": {"author": "Demo <demo@acme.test>",
                                               "date": r.git("log", "-1", "--format=%aI", commit).strip()}},
    ]
    assert key not in res.output


def test_exit_zero_when_clean(tmp_path):
    (tmp_path / "a.txt").write_text("nothing here\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(tmp_path)])
    assert res.exit_code == 0 and json.loads(res.output)["findings"] == []


def test_exit_two_on_missing_path_with_one_line():
    p = run("scan", "/no/such/place")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == ["sprawlscan: /no/such/place: no such file or directory"]


def test_exit_two_on_git_scheme_for_a_plain_directory(tmp_path):
    p = run("scan", f"git:{tmp_path}")
    assert p.returncode == 2 and "not a git repository" in p.stderr and "Traceback" not in p.stderr


def test_exit_two_on_bad_rule_file(tmp_path):
    bad = tmp_path / "r.toml"
    bad.write_text("[[rule]]\nid = 'x'\n")
    p = run("scan", "--rules", str(bad), str(tmp_path))
    assert p.returncode == 2 and "field 'provider' is required" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_exit_three_on_incomplete_scan_still_writes_report(make_repo, rng, tmp_path):
    key = github(rng)
    ok = tmp_path / "ok"
    ok.mkdir()
    (ok / "t.txt").write_text(key)
    r = make_repo("broken")
    r.write("a.txt", "x\n")
    r.commit("a")
    (r.path / ".git" / "refs" / "heads" / "main").write_text("1" * 40 + "\n")
    out = tmp_path / "report.json"
    p = run("scan", "--format", "json", "-o", str(out), str(r.path), str(ok))
    assert p.returncode == 3 and "Traceback" not in p.stderr
    doc = json.loads(out.read_text())
    assert doc["incomplete"] is True and doc["incomplete_reasons"]
    assert [f["secret_sha256"] for f in doc["findings"]] == [fingerprint(key)]


def test_table_output_never_shows_the_secret(demo_org, demo_secrets):
    p = run("scan", "--format", "table", str(demo_org))
    assert p.returncode == 1
    assert "openai.project" in p.stdout and "sk-pro…(164)" in p.stdout
    for value in demo_secrets.values():
        assert value not in p.stdout and value not in p.stderr


def test_allowlist_suppresses_by_fingerprint(tmp_path, rng):
    a, b = github(rng), github(rng)
    (tmp_path / "t.txt").write_text(f"{a}\n{b}\n")
    allow = tmp_path / "allow.txt"
    allow.write_text(f"{fingerprint(a)}  # known test token\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--allowlist", str(allow), str(tmp_path)])
    doc = json.loads(res.output)
    assert [f["secret_sha256"] for f in doc["findings"]] == [fingerprint(b)]
    assert doc["summary"]["skipped"]["allowlisted"] == 1


@pytest.mark.parametrize("args,code", [(["rules", "check"], 0), (["rules", "list"], 0)])
def test_rules_commands(args, code):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == code
    assert "openai.project" in res.output or "failure(s)" in res.output


def test_rules_check_reports_failing_rule(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text("[[rule]]\nid='acme.k'\nprovider='acme'\npattern='acme_([a-z]{8})'\n"
                 "keywords=['acme_']\nexamples=['acme_zzzz']\nnegative_examples=['acme_qwmzkfpt']\n")
    res = CliRunner().invoke(main, ["rules", "check", str(f)])
    assert res.exit_code == 1
    assert "FAIL acme.k:ex1" in res.output and "FAIL acme.k:neg1" in res.output


def test_demo_org_findings(demo_org, demo_secrets):
    from scanner.pipeline import run_scan

    result = run_scan([str(demo_org)])
    fps = {c.fingerprint: c for c in result.credentials}
    openai = fps[fingerprint(demo_secrets["openai"])]
    assert {(loc.container, loc.path, loc.state) for loc in openai.locations} == {
        ("acme/support-agent", "agent.py", "historical"),
        ("acme/platform-ci", "deploy.sh", "live"),
        (str(demo_org), "files/.env", "live"),
    }
    assert fingerprint(demo_secrets["anthropic"]) in fps      # side branch
    assert fingerprint(demo_secrets["huggingface"]) in fps    # tag only + notebook output
    assert len(fps[fingerprint(demo_secrets["huggingface"])].locations) == 2
    assert fingerprint(demo_secrets["slack"]) in fps          # untracked .env + MCP config
    assert fingerprint(demo_secrets["github_pat"]) in fps     # MCP env block
    assert fingerprint(demo_secrets["aws_secret"]) in fps


def test_demo_org_with_exports_folds_copies(demo_org, demo_secrets):
    """The README quick start: repo secrets copied into the vault export, a Jira ticket and a
    Confluence page fold into the same credentials, each with every kind of place."""
    from build_demo import exports_dir
    from scanner.pipeline import run_scan

    ex = exports_dir(demo_org)
    result = run_scan([str(demo_org), f"vault-export:{ex / 'vault/export.json'}",
                       f"jira-export:{ex / 'tickets/jira.json'}",
                       f"confluence-export:{ex / 'wiki/confluence.json'}"])
    assert not result.incomplete
    fps = {c.fingerprint: c for c in result.credentials}

    def places(name):
        return {(loc.source, loc.container, loc.path, loc.state)
                for loc in fps[fingerprint(demo_secrets[name])].locations}

    assert places("openai") == {
        ("git", "acme/support-agent", "agent.py", "historical"),
        ("git", "acme/platform-ci", "deploy.sh", "live"),
        ("file", str(demo_org), "files/.env", "live"),
        ("vault", "secret", "agents/support-agent#OPENAI_API_KEY", "live"),
        ("jira", "SUP", "SUP-101#comment-20001", "live"),
    }
    assert ("jira", "SUP", "SUP-101#history-30001/description/from", "historical") in places("anthropic")
    assert ("confluence", "OPS", "65601", "live") in places("github_pat")
    assert {("vault", "secret", "agents/support-agent#SLACK_BOT_TOKEN", "live"),
            ("confluence", "OPS", "65601#v1", "historical")} <= places("slack")
    assert ("vault", "secret", "agents/research#HF_TOKEN", "live") in places("huggingface")
    db = fps[fingerprint(demo_secrets["db_password"])]
    assert (db.rule_id, db.provider) == ("declared.secret", "database")
    [vault_loc] = [loc for loc in fps[fingerprint(demo_secrets["openai"])].locations
                   if loc.source == "vault"]
    assert dict(vault_loc.attributes)["custom_metadata.expires"] == "2026-06-30"


def test_every_source_scheme_resolves():
    """Every URI scheme in the SOURCES registry maps to a factory; the new ones are there."""
    from scanner.pipeline import SOURCES

    assert {"jira", "jira-export", "confluence", "confluence-export", "vault",
            "vault-export"} <= set(SOURCES)
    assert all(callable(f) for f in SOURCES.values())


@pytest.mark.parametrize("scheme,text,message", [
    ("jira-export", '{"issues": [', "malformed Jira export JSON (line 1: Expecting value)"),
    ("confluence-export", '{"results": [{"id": 1}', "malformed Confluence export JSON (line 1"),
    ("jira-export", '{"issues": [{"no": "key"}]}', "not a Jira issue export"),
    ("confluence-export", '[1]', "not a Confluence content export"),
])
def test_bad_ticket_exports_are_one_line_exit_two(tmp_path, scheme, text, message):
    """Malformed or foreign export files: one line naming the file, exit code 2."""
    f = tmp_path / "export.json"
    f.write_text(text)
    p = run("scan", f"{scheme}:{f}")
    assert p.returncode == 2
    [line] = p.stderr.strip().splitlines()
    assert line.startswith(f"sprawlscan: {f}: ") and message in line


@pytest.mark.parametrize("target", ["jira:acme.atlassian.net", "confluence:wiki", "vault:127.0.0.1:8200"])
def test_service_urls_must_be_http(target):
    """A service source without an http(s) URL is a usage error, in one line."""
    p = run("scan", target)
    assert p.returncode == 2 and "the URL must start with http:// or https://" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
