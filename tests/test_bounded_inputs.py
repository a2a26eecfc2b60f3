"""Files the user names and live API answers are read within bounds: an allowlist, baseline,
sprawlscan.toml or rule file that is a FIFO or oversized is one line and exit 2 (never a hang or a
whole-memory read); a GitLab, Vault, Jira or GitHub answer nested 100k levels deep is a failed unit
(exit 3) and a provider's during `--verify` an unverifiable answer, never an internal error."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys

import pytest
from click.testing import CliRunner
from tokens import github

from scanner.cli import main
from scanner.pipeline import ScanOptions, run_scan
from scanner.verify.base import Reply, Unverifiable

DEEP = "[" * 100_000 + "]" * 100_000
RULE = '[[rule]]\nid = "x.y"\nprovider = "x"\npattern = \'xy_([a-z]{8})\'\nkeywords = ["xy_"]\nexamples = ["xy_abcdefgh"]\n'


def cli(args: list[str], cwd, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, so that a read that hangs fails the test instead of the run."""
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("flag", ["--allowlist", "--baseline", "--rules"])
def test_a_fifo_given_as_a_file_is_refused(tmp_path, flag):
    """A named pipe nobody writes to, given as allowlist, baseline or rule file: exit 2 and one
    line naming it, at once."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "src").mkdir()
    res = cli(["scan", flag, str(fifo), "src"], tmp_path)
    assert res.returncode == 2, res.stderr
    assert "not a regular file" in res.stderr and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["--allowlist", "--baseline", "--rules"])
def test_an_oversized_file_is_refused(tmp_path, flag):
    """A 17 MiB (sparse) allowlist, baseline or rule file: exit 2, one line, not read whole."""
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(17 * 1024 * 1024)
    (tmp_path / "src").mkdir()
    res = cli(["scan", flag, str(big), "src"], tmp_path)
    assert res.returncode == 2, res.stderr
    assert "larger than" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_oversized_or_fifo_config_is_refused(tmp_path):
    """A 2 MiB sprawlscan.toml in the working directory, or SPRAWLSCAN_CONFIG naming a FIFO:
    exit 2 with one line."""
    (tmp_path / "src").mkdir()
    (tmp_path / "sprawlscan.toml").write_text("# padding\n" * 210_000 + "[scan]\n")
    res = cli(["scan", "src"], tmp_path)
    assert res.returncode == 2 and "larger than" in res.stderr, res.stderr
    (tmp_path / "sprawlscan.toml").unlink()
    fifo = tmp_path / "cfg"
    os.mkfifo(fifo)
    res = cli(["scan", "src"], tmp_path, {"SPRAWLSCAN_CONFIG": str(fifo)})
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_rule_file_still_loads(tmp_path):
    """The bounded read changes nothing for a normal rule file and allowlist."""
    rules, allow = tmp_path / "r.toml", tmp_path / "allow.txt"
    rules.write_text(RULE)
    allow.write_text("# none yet\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("xy_kdmrpzta\n")
    res = cli(["scan", "--format", "json", "--rules", str(rules), "--allowlist", str(allow), "src"], tmp_path)
    assert res.returncode == 1, res.stderr
    assert [f["rule_id"] for f in json.loads(res.stdout)["findings"]] == ["x.y"]


def test_deep_json_from_gitlab_is_a_failed_unit(httpserver, monkeypatch, tmp_path):
    """python-gitlab reading an answer nested 100k levels: that unit fails, the scan goes on and is
    incomplete; nothing escapes as an internal error."""
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-" + secrets.token_urlsafe(16))
    api = "/api/v4"
    httpserver.expect_request(f"{api}/groups/acme").respond_with_json(
        {"id": 1, "name": "acme", "path": "acme", "full_path": "acme", "web_url": "https://g/acme"})
    httpserver.expect_request(f"{api}/groups/1/descendant_groups").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/variables").respond_with_data(
        DEEP, content_type="application/json")
    httpserver.expect_request(f"{api}/groups/1/projects").respond_with_json([])
    result = run_scan(["gitlab:acme"], ScanOptions(extra={"gitlab_url": httpserver.url_for("").rstrip("/"),
                                                          "cache_dir": str(tmp_path / "c")}))
    assert len(result.stats.errors) == 1 and "variables" in result.stats.errors[0], result.stats.errors


def test_deep_json_from_vault_exits_3(httpserver, monkeypatch):
    """hvac reading an answer nested 100k levels: exit 3 with the path as a failed unit."""
    monkeypatch.setenv("VAULT_TOKEN", "hvs." + secrets.token_urlsafe(20))
    httpserver.expect_request(re.compile("/v1/.*")).respond_with_data(DEEP, content_type="application/json")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--vault-path", "secret/agents",
                                    f"vault:{httpserver.url_for('').rstrip('/')}"])
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["incomplete_reasons"]


def test_deep_json_from_jira_exits_3(httpserver, monkeypatch):
    """atlassian-python-api reading a search page nested 100k levels: exit 3, one reason."""
    monkeypatch.setenv("JIRA_TOKEN", "jira-" + secrets.token_urlsafe(16))
    httpserver.expect_request("/rest/api/2/search").respond_with_data(DEEP, content_type="application/json")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--jql", "project = ENG",
                                    f"jira:{httpserver.url_for('').rstrip('/')}"])
    assert res.exit_code == 3, res.output
    assert "internal error" not in res.output


def test_deep_json_from_github_is_a_failed_unit(httpserver, monkeypatch, tmp_path):
    """PyGithub parses its own answers (json.loads, bounded by Python's recursion limit): an answer
    nested 100k levels is a failed unit named as such, exit 3."""
    monkeypatch.setenv("GITHUB_TOKEN", github(__import__("random").Random(5)))
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/users/acme").respond_with_json(
        {"login": "acme", "id": 1, "type": "Organization", "url": f"{base}/users/acme"})
    httpserver.expect_request("/orgs/acme").respond_with_json({"login": "acme", "id": 1, "url": f"{base}/orgs/acme"})
    httpserver.expect_request("/orgs/acme/repos").respond_with_json([])
    httpserver.expect_request("/orgs/acme/actions/secrets").respond_with_data(
        DEEP, content_type="application/json")
    httpserver.expect_request(re.compile("/users/acme/gists.*|/orgs/acme/members.*")).respond_with_json([])
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--github-url", base,
                                    "--cache-dir", str(tmp_path / "c"), "github:acme"])
    assert res.exit_code == 3, res.output
    reasons = json.loads(res.stdout)["incomplete_reasons"]
    assert reasons == ["acme org secrets: unexpected response (JSON nested too deep)"], reasons


def test_deep_json_from_a_provider_is_unverifiable():
    """`--verify`: a provider answer nested 100k levels deep is an unverifiable answer; the
    bounded parser refuses even one nested 300 levels (a RecursionError-free depth)."""
    for body in (DEEP, "[" * 300 + "]" * 300):
        with pytest.raises(Unverifiable):
            Reply(200, {}, body.encode(), "api.example").json()
    assert Reply(200, {}, b'{"ok": [1]}', "api.example").json() == {"ok": [1]}
