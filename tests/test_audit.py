"""Lifecycle audit: each check fires on the case it names, with its severity and correct OWASP
NHI Top 10 2025 / NIST CSF 2.0 tags, and the CLI's --fail-on decides the exit code."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from scanner.cli import main
from scanner.graph.audit import run_audit
from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import load_inventory
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact
from tokens import aws_pair, github, openai_project

AT = dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc)
INV = """\
kind: AgentInventory
agents:
  - name: old
    purpose: p
    owner: group:a
    technicalOwner: user:a
    expires: 2026-06-30
    credentials:
      - {id: k, vault: "secret/agents/old#K"}
      - {id: pat, vault: "secret/agents/old#PAT", issuedTo: human, principal: "user:dan"}
  - name: other
    lifecycle: retired
    credentials: [{id: k, vault: "secret/agents/other#K"}]
  - name: lapsed
    lifecycle: retired
    owner: group:a
    credentials: [{id: t, vault: "secret/agents/lapsed#T", lifetime: short-lived, expires: 2026-06-01}]
  - name: ghost
    credentials: [{id: missing, vault: "secret/agents/ghost#NOPE"}]
"""


def findings(tmp_path, rng):
    key, pat = openai_project(rng), github(rng)
    aws_id, aws_secret = aws_pair(rng)
    creds = (Credential(fingerprint(key), "openai.project", "openai", redact(key),
                        (Location("vault", "secret", "agents/old#K"), Location("vault", "secret", "agents/other#K"),
                         Location("jira", "OPS", "OPS-12"))),
             Credential(fingerprint(pat), "github.pat", "github", redact(pat), (Location("vault", "secret", "agents/old#PAT"),)),
             Credential(fingerprint(aws_secret), "aws.access-key", "aws", redact(aws_secret),
                        (Location("git", "acme/x", "a.ini", "1" * 40, 2, "historical"),)),
             Credential(fingerprint(pat + "t"), "x", "x", redact(pat), (Location("vault", "secret", "agents/lapsed#T"),)))
    inv = tmp_path / "agents.yaml"
    inv.write_text(INV)
    sg = build_graph(ScanResult(creds, ScanStats()), load_inventory(inv))
    out = run_audit(sg, AT)
    return {(f.check, f.subject): f for f in out}, fingerprint(key), fingerprint(pat), fingerprint(aws_secret)


def test_each_check_with_severity_and_tags(tmp_path, rng):
    """Past-expiry and retired agents reaching credentials, shared, human, orphaned, long-lived,
    exposure outside a vault, missing owners/purpose/expiry, unresolved declarations."""
    f, key, pat, aws = findings(tmp_path, rng)
    got = {k: (v.severity, v.tags) for k, v in f.items()}
    assert got[("retired-agent-reaches-credentials", "agent:old")] == ("high", ("NHI1:2025", "PR.AA-01"))
    assert got[("retired-agent-reaches-credentials", "agent:other")] == ("high", ("NHI1:2025", "PR.AA-01"))
    assert got[("shared-credential", f"credential:{key}")] == ("medium", ("NHI9:2025", "PR.AA-05"))
    assert got[("human-credential-used-by-agent", f"credential:{pat}")] == ("high", ("NHI10:2025", "PR.AA-01"))
    assert got[("orphaned-credential", f"credential:{aws}")] == ("medium", ("NHI1:2025", "PR.AA-01"))
    assert got[("long-lived-credential", f"credential:{aws}")] == ("medium", ("NHI7:2025", "PR.AA-01"))
    assert got[("exposed-outside-vault", f"credential:{key}")] == ("high", ("NHI2:2025", "PR.AA-01"))
    assert ("exposed-outside-vault", f"credential:{pat}") not in got  # vault only
    assert got[("missing-owner", "agent:ghost")][0] == "medium"
    assert {c for c, s in got if s == "agent:old" and c.startswith("missing-")} == set()
    assert got[("unresolved-reference", "agent:ghost")] == ("low", ("PR.AA-01",))
    assert ("orphaned-credential", f"credential:{key}") not in got
    # a retired agent whose only credential already expired reaches nothing valid
    assert ("retired-agent-reaches-credentials", "agent:lapsed") not in got


def test_audit_cli_fail_on(demo_org):
    """Demo: high findings exist, so --fail-on high exits 1; --fail-on critical exits 0."""
    args = ["audit", "--inventory", str(demo_org / "agents.yaml"), "--format", "json", str(demo_org)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    checks = {f["check"] for f in json.loads(res.output)["findings"]}
    assert {"shared-credential", "human-credential-used-by-agent", "exposed-outside-vault"} <= checks
    assert CliRunner().invoke(main, [*args[:1], "--fail-on", "critical", *args[1:]]).exit_code == 0


def test_a_credential_only_ci_uses_is_not_orphaned(make_repo, tmp_path, rng):
    """A value a CI workflow reads (bound by its vault key name) is claimed; one nothing reads is orphaned."""
    r = make_repo("svc")
    r.write(".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'x ${{ secrets.USED_KEY }}'}]\n")
    r.commit("ci")
    used, idle = openai_project(rng), openai_project(rng)
    creds = tuple(Credential(fingerprint(v), "openai.project", "openai", redact(v), (Location("vault", "secret", f"ci/{k}#{k}"),))
                  for k, v in (("USED_KEY", used), ("IDLE_KEY", idle)))
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: nobody\n    owner: group:x\n")
    sg = build_graph(ScanResult(creds, ScanStats(), records_of([str(r.path)])), load_inventory(inv))
    orphaned = {f.subject for f in run_audit(sg, AT) if f.check == "orphaned-credential"}
    assert orphaned == {f"credential:{fingerprint(idle)}"}
