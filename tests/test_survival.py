"""Survival: exact survivors, reasons, evidence paths and exit codes per scenario, built from real
git repositories (make_repo), a real inventory file and credentials placed in a vault export."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import load_inventory
from scanner.graph.survival import parse_at, parse_grace, survivors
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact
from tokens import github, openai_project, slack_bot

AT = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
NOTIFY = """\
on:
  workflow_call:
    secrets:
      SLACK_TOKEN: {required: true}
jobs:
  n:
    runs-on: ubuntu-latest
    steps:
      - run: 'curl -H "Authorization: Bearer ${{ secrets.SLACK_TOKEN }}" https://slack.test'
"""


def vault_cred(secret: str, path: str, rule: str = "slack.bot", provider: str = "slack",
               extra: tuple[Location, ...] = (), lifetime: str = "static") -> Credential:
    locs = (Location("vault", "secret", path), *extra)
    return Credential(fingerprint(secret), rule, provider, redact(secret), tuple(sorted(locs)), lifetime)


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def graph(tmp_path, creds, inventory_text, *roots):
    inv = load_inventory(write(tmp_path, "agents.yaml", inventory_text))
    return build_graph(ScanResult(tuple(creds), ScanStats(), records_of([str(r) for r in roots])), inv)


def by_fp(report):
    return {v.credential.fingerprint: v for v in report.verdicts}


def caller(make_repo, name: str, secret_name: str):
    r = make_repo(name)
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
            "    uses: acme/shared-ci/.github/workflows/notify.yml@main\n"
            f"    secrets:\n      SLACK_TOKEN: ${{{{ secrets.{secret_name} }}}}\n")
    r.commit("run")
    return r


PER_CALL_INVENTORY = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: bot-a
    owner: group:ops
    technicalOwner: user:ann
    credentials:
      - {id: slack, vault: secret/agents/bot-a#SLACK, ci: [{github: acme/bot-a:A_SLACK}]}
    workflows: [{github: acme/bot-a/.github/workflows/run.yml}]
  - name: bot-b
    credentials:
      - {id: slack, vault: secret/agents/bot-b#SLACK, ci: [{github: acme/bot-b:B_SLACK}]}
    workflows: [{github: acme/bot-b/.github/workflows/run.yml}]
"""


def per_call_setup(make_repo, tmp_path, rng):
    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("notify")
    caller(make_repo, "bot-a", "A_SLACK")
    caller(make_repo, "bot-b", "B_SLACK")
    sa, sb = slack_bot(rng), slack_bot(rng)
    creds = [vault_cred(sa, "agents/bot-a#SLACK"), vault_cred(sb, "agents/bot-b#SLACK")]
    sg = graph(tmp_path, creds, PER_CALL_INVENTORY, tmp_path)
    return sg, fingerprint(sa), fingerprint(sb)


def test_two_agents_calling_the_same_notify_do_not_share_tokens(make_repo, tmp_path, rng):
    """notify.yml is evaluated per call through each caller's map: bot-a reaches only its own
    token, which is orphaned (not shared with bot-b), via the exact call chain."""
    sg, fa, fb = per_call_setup(make_repo, tmp_path, rng)
    rep = survivors(sg, "bot-a", AT)
    assert set(by_fp(rep)) == {fa}
    v = by_fp(rep)[fa]
    assert (v.survives, v.reason, v.other_holders) == (True, "orphaned", ())
    assert ("agent:bot-a", "workflow:github:acme/bot-a:.github/workflows/run.yml",
            "workflow:github:acme/shared-ci:.github/workflows/notify.yml",
            "reference:github:acme/shared-ci:.github/workflows/notify.yml#SLACK_TOKEN",
            "reference:github:acme/bot-a:.github/workflows/run.yml#A_SLACK",
            f"credential:{fa}") in v.reached_via
    assert rep.dies == ("agent:bot-a", "workflow:github:acme/bot-a:.github/workflows/run.yml")  # notify.yml: bot-b
    assert rep.blocked
    assert set(by_fp(survivors(sg, "bot-b", AT))) == {fb}


INHERIT_INVENTORY = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: support
    platform: {ref: "openai:org-acme/proj_support", kind: openai-project}
    identities: [{ref: "openai:proj_support/svcacct/support", exclusive: true}]
    credentials:
      - {id: key, provider: openai, vault: "secret/agents/support#OPENAI_API_KEY",
         ci: [{github: "org:acme:OPENAI_API_KEY"}]}
  - name: release
    workflows: [{github: acme/release/.github/workflows/release.yml}]
"""


def nested_repos(make_repo):
    """release.yml -(inherit)-> summarize.yml -(map LLM_KEY: OPENAI_API_KEY)-> llm.yml -(inherit)-> deep.yml."""
    rel = make_repo("release")
    rel.write(".github/workflows/release.yml", "on: push\njobs:\n  s:\n"
              "    uses: acme/platform-ci/.github/workflows/summarize.yml@v1\n    secrets: inherit\n")
    rel.commit("release")
    ci = make_repo("platform-ci")
    ci.write(".github/workflows/summarize.yml", "on: workflow_call\njobs:\n  llm:\n"
             "    uses: ./.github/workflows/llm.yml\n    secrets:\n"
             "      LLM_KEY: ${{ secrets.OPENAI_API_KEY }}\n      UNUSED: ${{ secrets.RELEASE_PAT }}\n")
    ci.write(".github/workflows/llm.yml", "on: workflow_call\njobs:\n  deep:\n"
             "    uses: ./.github/workflows/deep.yml\n    secrets: inherit\n")
    ci.write(".github/workflows/deep.yml", "on: workflow_call\njobs:\n  go:\n    runs-on: x\n    steps:\n"
             "      - run: echo go\n        env:\n          KEY: ${{ secrets.LLM_KEY }}\n"
             "          TOK: ${{ secrets.GITHUB_TOKEN }}\n          NOPE: ${{ secrets.NOT_PASSED }}\n")
    ci.commit("ci")
    ci.git("tag", "v1")  # release.yml pins summarize.yml@v1: read at that tag


def test_inherit_through_three_levels_makes_the_key_shared(make_repo, tmp_path, rng):
    """support's key, stored as the org secret, is reached by release.yml through inherit → map →
    inherit three levels down: it survives as `shared` with release as the other holder; the
    explicitly mapped but unreferenced RELEASE_PAT is visibility, not reach."""
    nested_repos(make_repo)
    key = openai_project(rng)
    creds = [vault_cred(key, "agents/support#OPENAI_API_KEY", "openai.project", "openai")]
    sg = graph(tmp_path, creds, INHERIT_INVENTORY, tmp_path)
    rep = survivors(sg, "support", AT)
    v = by_fp(rep)[fingerprint(key)]
    assert (v.survives, v.reason) == (True, "shared")
    assert "agent:release" in v.other_holders
    assert v.dies_because is None and "NHI9:2025" in v.tags and "PR.AA-05" in v.tags
    release = survivors(sg, "release", AT)
    [rv] = release.verdicts
    assert rv.reached_via == (("agent:release", "workflow:github:acme/release:.github/workflows/release.yml",
                               "workflow:github:acme/platform-ci:.github/workflows/summarize.yml",
                               "workflow:github:acme/platform-ci:.github/workflows/llm.yml",
                               "workflow:github:acme/platform-ci:.github/workflows/deep.yml",
                               "reference:github:acme/platform-ci:.github/workflows/deep.yml#LLM_KEY",
                               "reference:github:acme/platform-ci:.github/workflows/summarize.yml#OPENAI_API_KEY",
                               f"credential:{fingerprint(key)}"),)
    assert (rv.reason, rv.other_holders) == ("shared", ("agent:support",))
    assert release.dies == ("agent:release", *(f"workflow:github:acme/{w}.yml" for w in (
        "platform-ci:.github/workflows/deep", "platform-ci:.github/workflows/llm",
        "platform-ci:.github/workflows/summarize", "release:.github/workflows/release")))
    # NOT_PASSED is referenced three levels down but never mapped: unresolved, and it blocks
    assert [(u.name, u.referenced_by) for u in release.unresolved] == \
        [("NOT_PASSED", "workflow:github:acme/platform-ci:.github/workflows/deep.yml")]
    assert release.blocked


def test_exclusive_identity_key_dies_when_nobody_else_reaches_it(tmp_path, rng):
    """A key issued only to the agent's exclusive service account at a provider that invalidates
    it dies with the agent: listed with survives false and dies_because; exit 0."""
    key = openai_project(rng)
    inv = INHERIT_INVENTORY.split("  - name: release")[0].replace("}]}", "}], issuedTo: identity}")
    sg = graph(tmp_path, [vault_cred(key, "agents/support#OPENAI_API_KEY", "openai.project", "openai")], inv)
    rep = survivors(sg, "support", AT)
    [v] = rep.verdicts
    assert (v.survives, v.reason) == (False, None)
    assert "identity:openai:proj_support/svcacct/support" in v.dies_because
    assert not rep.blocked


PLATFORM_HUMAN_SHORT = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: eval
    platform: {ref: "anthropic:ws-shared"}
    credentials:
      - {id: claude, vault: "secret/agents/eval#ANTHROPIC_API_KEY", issuedTo: platform}
      - {id: pat, vault: "secret/agents/eval#GH_PAT", issuedTo: human, principal: "user:bob"}
      - {id: app-token, vault: "secret/agents/eval#GH_APP", lifetime: short-lived,
         expires: "2026-01-10T00:45:00Z"}
      - {id: sts, vault: "secret/agents/eval#AWS", lifetime: short-lived, expires: "2026-01-11T06:00:00Z"}
      - {id: minted, vault: "secret/agents/eval#MINTED", lifetime: short-lived,
         expires: "2026-01-10T06:00:00Z", mintedBy: "anthropic:ws-shared"}
"""


def test_platform_human_expiring_and_dead_short_lived(tmp_path, rng):
    """Each reason in one agent: platform, human, expiring (outlives grace), a short-lived token
    that dies within the grace period, and one kept alive by a surviving minting parent."""
    vals = {k: github(rng) for k in ("claude", "pat", "app", "sts", "minted")}
    creds = [vault_cred(vals["claude"], "agents/eval#ANTHROPIC_API_KEY", "x", "anthropic"),
             vault_cred(vals["pat"], "agents/eval#GH_PAT", "github.pat", "github"),
             vault_cred(vals["app"], "agents/eval#GH_APP", "github.installation", "github"),
             vault_cred(vals["sts"], "agents/eval#AWS", "aws.sts-session", "aws"),
             vault_cred(vals["minted"], "agents/eval#MINTED", "x", "github")]
    sg = graph(tmp_path, creds, PLATFORM_HUMAN_SHORT)
    v = {k: by_fp(survivors(sg, "eval", AT))[fingerprint(s)] for k, s in vals.items()}
    assert (v["claude"].survives, v["claude"].reason) == (True, "platform")
    assert (v["pat"].survives, v["pat"].reason) == (True, "human") and "user:bob" in v["pat"].action
    assert "NHI10:2025" in v["pat"].tags
    assert (v["app"].survives, v["app"].reason) == (False, None) and "within the grace" in v["app"].dies_because
    assert (v["sts"].survives, v["sts"].reason) == (True, "expiring")
    assert (v["minted"].survives, v["minted"].reason) == (True, "expiring")
    # with a 10m grace the app token outlives the window and is expiring, not dead
    short = by_fp(survivors(sg, "eval", AT, parse_grace("10m")))[fingerprint(vals["app"])]
    assert (short.survives, short.reason) == (True, "expiring")
    rep = survivors(sg, "eval", AT)
    assert rep.blocked  # human blocks
    assert survivors(sg, "eval", parse_at("2026-03-02")).verdicts  # bare date parses


def test_missing_evidence_never_kills(tmp_path, rng):
    """Short-lived without expiry evidence (unknown expiry is not expiry: `orphaned`, blocking) and
    identity-issued without a named principal both survive."""
    inv = """\
    apiVersion: sprawlscan/v1
    kind: AgentInventory
    agents:
      - name: x
        identities: [{ref: a, exclusive: true}, {ref: b, exclusive: true}]
        credentials:
          - {id: k1, vault: "secret/agents/x#K1", lifetime: short-lived}
          - {id: k2, vault: "secret/agents/x#K2", issuedTo: identity, provider: openai}
    """
    k1, k2 = github(rng), openai_project(rng)
    sg = graph(tmp_path, [vault_cred(k1, "agents/x#K1"), vault_cred(k2, "agents/x#K2", "openai.project", "openai")],
               textwrap.dedent(inv))
    v = by_fp(survivors(sg, "x", AT))
    assert (v[fingerprint(k1)].survives, v[fingerprint(k1)].reason) == (True, "orphaned")
    assert "expiry unknown" in v[fingerprint(k1)].action
    assert (v[fingerprint(k2)].survives, v[fingerprint(k2)].reason) == (True, "orphaned")


def test_survivors_cli_json_shape_and_exit_codes(make_repo, tmp_path, rng):
    """The CLI prints the issue's JSON shape and exits 1 when blocked, 2 on an unknown agent."""
    from scanner.cli import main

    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("n")
    tok = slack_bot(rng)
    a = caller(make_repo, "bot-a", "A_SLACK")
    a.write(".env", f"A_SLACK={tok}\n")
    inv = write(tmp_path, "agents.yaml", PER_CALL_INVENTORY.replace(
        "vault: secret/agents/bot-a#SLACK, ", "env: [A_SLACK], "))
    res = CliRunner().invoke(main, ["survivors", "bot-a", "--inventory", str(inv), "--at", "2026-01-10",
                                    "--format", "json", str(tmp_path / "shared-ci"), str(a.path)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    assert (doc["agent"], doc["at"], doc["blocked"]) == ("bot-a", "2026-01-10T00:00:00+00:00", True)
    [c] = doc["credentials"]
    assert {"secret_sha256", "rule_id", "provider", "redacted", "survives", "reason", "dies_because",
            "action", "reached_via", "other_holders", "exposure", "owners", "tags"} <= set(c)
    assert c["secret_sha256"] == fingerprint(tok) and c["reason"] == "orphaned"
    assert c["owners"] == {"business": "group:ops", "technical": "user:ann"}
    assert [loc["path"] for loc in c["exposure"]["live"]] == [".env"]
    assert tok not in res.output
    assert doc["unresolved"] == [] or all("name" in u for u in doc["unresolved"])
    bad = CliRunner().invoke(main, ["survivors", "nobody", "--inventory", str(inv), str(a.path)])
    assert bad.exit_code == 2 and "unknown agent 'nobody'" in bad.output


NOBODY = """\
apiVersion: sprawlscan/v1
kind: AgentInventory
agents:
  - name: idle
  - name: worker
    credentials: [{id: k, vault: "secret/agents/worker#K"}]
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=0, max_value=4), at_days=st.integers(min_value=0, max_value=400))
def test_agent_reaching_nothing_has_no_survivors(tmp_path, n, at_days):
    """Deleting an agent that reaches nothing yields no survivors, whatever else exists."""
    creds = [vault_cred(f"xoxb-{i:011d}-{i:013d}-{'q' * 24}", f"agents/worker#K{i}") for i in range(n)]
    sg = graph(tmp_path, creds, NOBODY)
    rep = survivors(sg, "idle", AT + dt.timedelta(days=at_days))
    assert rep.verdicts == () and not rep.blocked


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lifetime=st.sampled_from(["static", "short-lived"]), issued=st.sampled_from(["identity", "platform", "human", None]),
       expires_h=st.integers(min_value=-48, max_value=96), other_lifetime=st.sampled_from(["static", "short-lived", None]),
       exclusive=st.booleans())
def test_second_holder_never_turns_survives_false(tmp_path, lifetime, issued, expires_h, other_lifetime, exclusive):
    """Adding a second agent declaring the same value never turns `survives` from true to false."""
    exp = (AT + dt.timedelta(hours=expires_h)).isoformat()
    one = (f"apiVersion: sprawlscan/v1\nkind: AgentInventory\nagents:\n  - name: x\n"
           f"    platform: {{ref: p}}\n    identities: [{{ref: i, exclusive: {str(exclusive).lower()}}}]\n"
           f"    credentials:\n      - {{id: k, provider: openai, vault: 'secret/agents/x#K', lifetime: {lifetime},"
           f" expires: '{exp}'{', issuedTo: ' + issued if issued else ''}}}\n")
    two = one + ("  - name: y\n    credentials:\n      - {id: k, vault: 'secret/agents/y#K'"
                 + (f", lifetime: {other_lifetime}" if other_lifetime else "") + "}\n")
    secret = "sk-proj-" + "a" * 40 + "T3BlbkFJ" + "b" * 40
    cred = Credential(fingerprint(secret), "openai.project", "openai", redact(secret),
                      (Location("vault", "secret", "agents/x#K"), Location("vault", "secret", "agents/y#K")))
    before = by_fp(survivors(graph(tmp_path, [cred], one), "x", AT))[cred.fingerprint]
    after = by_fp(survivors(graph(tmp_path, [cred], two), "x", AT))[cred.fingerprint]
    if before.survives:
        assert after.survives
    assert after.reason == "shared" or not after.survives


def test_environment_beats_repo_beats_org(make_repo, tmp_path, rng):
    """A reference in a job with `environment: production` binds the environment secret; one
    without an environment binds the repo secret; the org secret only when nothing narrower exists."""
    r = make_repo("svc")
    r.write(".github/workflows/ci.yml", "on: push\njobs:\n  prod:\n    environment: production\n    runs-on: x\n"
            "    steps: [{run: 'x ${{ secrets.KEY }}'}]\n  test:\n    runs-on: x\n"
            "    steps: [{run: 'x ${{ secrets.KEY }} ${{ secrets.ORG_ONLY }}'}]\n")
    r.commit("ci")
    inv = """\
    kind: AgentInventory
    agents:
      - name: svc
        workflows: [{github: acme/svc/.github/workflows/ci.yml}]
      - name: holder
        credentials:
          - {id: env, vault: "secret/h#ENV", ci: [{github: "acme/svc:KEY@production"}]}
          - {id: repo, vault: "secret/h#REPO", ci: [{github: "acme/svc:KEY"}]}
          - {id: org, vault: "secret/h#ORG", ci: [{github: "org:acme:KEY"}, {github: "org:acme:ORG_ONLY"}]}
    """
    vals = {k: github(rng) for k in ("ENV", "REPO", "ORG")}
    creds = [vault_cred(v, f"h#{k}", "github.pat", "github") for k, v in vals.items()]
    sg = graph(tmp_path, creds, textwrap.dedent(inv), r.path)
    how = {v.credential.fingerprint: v.how for v in survivors(sg, "svc", AT).verdicts}
    assert set(how) == {fingerprint(vals["ENV"]), fingerprint(vals["REPO"]), fingerprint(vals["ORG"])}
    assert how[fingerprint(vals["ENV"])] == ("inventory mapping github:acme/svc:KEY",)
    ref = "reference:github:acme/svc:.github/workflows/ci.yml#KEY"
    env_paths = by_fp(survivors(sg, "svc", AT))[fingerprint(vals["ENV"])].reached_via
    assert all(ref in p for p in env_paths)
    org = by_fp(survivors(sg, "svc", AT))[fingerprint(vals["ORG"])]
    assert [p[-2] for p in org.reached_via] == ["reference:github:acme/svc:.github/workflows/ci.yml#ORG_ONLY"]


def test_visibility_is_not_reach_and_copies_are_not_consumers(make_repo, tmp_path, rng):
    """`secrets: inherit` to a callee that references nothing reaches nothing; a copy of the value at
    another agent's vault path (not declared by it) does not make the key shared."""
    r = make_repo("caller")
    r.write(".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    uses: ./.github/workflows/quiet.yml\n"
            "    secrets: inherit\n")
    r.write(".github/workflows/quiet.yml", "on: workflow_call\njobs:\n  q:\n    runs-on: x\n    steps: [{run: echo}]\n")
    r.commit("ci")
    inv = """\
    kind: AgentInventory
    agents:
      - name: caller
        workflows: [{github: acme/caller/.github/workflows/ci.yml}]
      - name: owner
        credentials: [{id: k, vault: "secret/agents/owner#K", ci: [{github: "org:acme:K"}]}]
      - name: bystander
    """
    key = openai_project(rng)
    cred = vault_cred(key, "agents/owner#K", "openai.project", "openai",
                      extra=(Location("vault", "secret", "agents/bystander#COPY"),))
    sg = graph(tmp_path, [cred], textwrap.dedent(inv), r.path)
    assert survivors(sg, "caller", AT).verdicts == ()
    [v] = survivors(sg, "owner", AT).verdicts
    assert (v.reason, v.other_holders) == ("orphaned", ())


def test_shared_workflow_and_identity_do_not_die(tmp_path, make_repo, rng):
    """A workflow two agents run and an identity another agent also declares survive the first
    agent; a credential issued to that identity survives as `platform`."""
    r = make_repo("shared")
    r.write(".github/workflows/w.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'x ${{ secrets.K }}'}]\n")
    r.commit("w")
    inv = """\
    kind: AgentInventory
    agents:
      - name: a
        identities: [{ref: svc, exclusive: true}]
        credentials: [{id: k, provider: openai, vault: "secret/agents/a#K", issuedTo: identity}]
        workflows: [{github: acme/shared/.github/workflows/w.yml}]
      - name: b
        identities: [{ref: svc}]
        workflows: [{github: acme/shared/.github/workflows/w.yml}]
    """
    key = openai_project(rng)
    sg = graph(tmp_path, [vault_cred(key, "agents/a#K", "openai.project", "openai")], textwrap.dedent(inv), r.path)
    rep = survivors(sg, "a", AT)
    assert rep.dies == ("agent:a",)
    [v] = rep.verdicts
    # b runs w.yml which reads K (bound by vault key name): shared comes first
    assert (v.survives, v.reason, v.other_holders) == (True, "shared", ("agent:b", "workflow:github:acme/shared:.github/workflows/w.yml"))
    sg2 = graph(tmp_path, [vault_cred(key, "agents/a#K", "openai.project", "openai")],
                textwrap.dedent(inv).replace("        workflows: [{github: acme/shared/.github/workflows/w.yml}]\n", ""))
    [v2] = survivors(sg2, "a", AT).verdicts
    assert (v2.survives, v2.reason) == (True, "platform")


def test_jwt_exp_claim_is_expiry_evidence(tmp_path):
    """A short-lived credential whose `exp` capture falls within the grace period dies."""
    inv = "kind: AgentInventory\nagents:\n  - name: j\n    credentials: [{id: t, vault: 'secret/agents/j#T'}]\n"
    exp = int((AT + dt.timedelta(hours=2)).timestamp())
    cred = Credential(fingerprint("eyJ.fake.jwt"), "jwt", "jwt", redact("eyJ.fake.jwt"),
                      (Location("vault", "secret", "agents/j#T"),), "short-lived", (("exp", str(exp)),))
    sg = graph(tmp_path, [cred], inv)
    [v] = survivors(sg, "j", AT).verdicts
    assert v.survives is False and "expires 2026-01-10T02:00:00+00:00" in v.dies_because
    [later] = survivors(sg, "j", AT - dt.timedelta(days=3)).verdicts
    assert (later.survives, later.reason) == (True, "expiring")


@pytest.mark.skipif("attributes" not in Location.__slots__, reason="vault attributes land with the vault-export source")
def test_vault_custom_metadata_expiry(tmp_path):
    """A vault `custom_metadata` expiry on the live version is expiry evidence."""
    inv = ("kind: AgentInventory\nagents:\n  - name: v\n    credentials: [{id: t, lifetime: short-lived,"
           " vault: 'secret/agents/v#T'}]\n")
    loc = Location("vault", "secret", "agents/v#T", attributes=(("custom_metadata.expires", "2026-01-10T05:00:00Z"),))
    cred = Credential(fingerprint("x" * 20), "x", "x", redact("x" * 20), (loc,))
    [v] = survivors(graph(tmp_path, [cred], inv), "v", AT).verdicts
    assert v.survives is False and "2026-01-10T05:00:00+00:00" in v.dies_because


def test_bad_at_and_grace_are_configuration_errors(tmp_path):
    """--at and --grace that do not parse exit 2 with one line."""
    from scanner.cli import main

    inv = write(tmp_path, "agents.yaml", NOBODY)
    for flag, value, msg in (("--at", "tomorrow", "--at: not an ISO date"), ("--grace", "soon", "--grace: not a duration")):
        res = CliRunner().invoke(main, ["survivors", "idle", "--inventory", str(inv), flag, value, str(tmp_path)])
        assert res.exit_code == 2 and msg in res.output
    assert parse_grace("90m") == dt.timedelta(minutes=90) and parse_grace("2d") == dt.timedelta(days=2)
    assert parse_at("2026-02-03T04:05:06Z") == dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)


MINTER = """\
kind: AgentInventory
agents:
  - name: deployer
    identities: [{ref: "github-app:acme/deployer", exclusive: true}]
    credentials:
      - {id: app-key, provider: github, vault: "secret/agents/deployer#APP_KEY", issuedTo: identity}
      - {id: token, provider: github, vault: "secret/agents/deployer#TOKEN", lifetime: short-lived,
         expires: "2026-01-10T01:00:00Z", mintedBy: app-key}
"""


def test_short_lived_token_lives_while_its_minting_key_survives(tmp_path, rng):
    """An installation token minted by the App key dies with it when the key dies (exclusive App
    identity); when the key survives (another declaration, or issued to the platform), so does
    the token, as `expiring`."""
    key, tok = github(rng), github(rng, prefix="ghs")
    creds = [vault_cred(key, "agents/deployer#APP_KEY", "x", "github"),
             vault_cred(tok, "agents/deployer#TOKEN", "github.installation", "github")]
    alone = by_fp(survivors(graph(tmp_path, creds, MINTER), "deployer", AT))
    assert alone[fingerprint(key)].survives is False and alone[fingerprint(tok)].survives is False
    also = MINTER + "  - name: other\n    credentials: [{id: k, vault: \"secret/agents/deployer#APP_KEY\"}]\n"
    shared = by_fp(survivors(graph(tmp_path, creds, also), "deployer", AT))
    # other's declaration names no principal (unknown counts as surviving): the key lives, shared,
    # and keeps minting the token
    assert (shared[fingerprint(key)].survives, shared[fingerprint(key)].reason) == (True, "shared")
    assert (shared[fingerprint(tok)].survives, shared[fingerprint(tok)].reason) == (True, "expiring")
    minter_alive = MINTER.replace("issuedTo: identity", "issuedTo: platform")
    kept = by_fp(survivors(graph(tmp_path, creds, minter_alive), "deployer", AT))
    assert kept[fingerprint(key)].survives and kept[fingerprint(tok)].survives
    assert kept[fingerprint(tok)].reason == "expiring"


def test_broken_workflow_the_agent_runs_blocks_with_a_warning(make_repo, tmp_path):
    """A workflow that cannot be parsed is a warning line and, when the agent runs it, an
    unresolved item that blocks (missing evidence never clears a decommission)."""
    from scanner.cli import main

    r = make_repo("w")
    r.write(".github/workflows/ci.yml", "on: [push\n")
    r.commit("broken")
    inv = write(tmp_path, "agents.yaml", "kind: AgentInventory\nagents:\n  - name: w\n"
                                         "    workflows: [{github: acme/w/.github/workflows/ci.yml}]\n")
    res = CliRunner().invoke(main, ["survivors", "w", "--inventory", str(inv), "--format", "json", str(r.path)])
    assert res.exit_code == 1
    assert "warning: workflow or config not read: acme/w:.github/workflows/ci.yml: not valid YAML" in res.output
    doc = json.loads(res.output[res.output.index("{"):])
    assert doc["unresolved"][0]["name"] == "workflow:github:acme/w:.github/workflows/ci.yml"


def test_call_chains_deeper_than_the_limit_are_reported(make_repo, tmp_path):
    """A chain of 20 nested reusable workflows stops at the depth limit with an unresolved item
    instead of recursing without end; a cycle (a calls b calls a) terminates."""
    r = make_repo("deep")
    for i in range(20):
        r.write(f".github/workflows/w{i}.yml", f"on: workflow_call\njobs:\n  n:\n    uses: ./.github/workflows/w{i + 1}.yml\n"
                "    secrets: inherit\n")
    r.write(".github/workflows/w20.yml", "on: workflow_call\njobs:\n  n:\n    uses: ./.github/workflows/w0.yml\n"
            "    secrets: inherit\n")
    r.commit("deep")
    inv = write(tmp_path, "agents.yaml", "kind: AgentInventory\nagents:\n  - name: d\n"
                                         "    workflows: [{github: acme/deep/.github/workflows/w0.yml}]\n"
                                         "  - name: c\n    workflows: [{github: acme/deep/.github/workflows/w20.yml}]\n")
    sg = build_graph(ScanResult((), ScanStats(), records_of([str(r.path)])), load_inventory(inv))
    [u] = survivors(sg, "d", AT).unresolved
    assert u.how == "calls nested deeper than 16 levels: not followed" and len(u.path) == 18


def test_cli_exit_zero_for_platform_and_dead_only_strict_one(tmp_path, rng):
    """Through a real vault export: a platform-issued key and a short-lived token whose vault
    custom_metadata expiry falls within the grace period give exit 0; --strict makes the platform
    survivor fail the gate (exit 1)."""
    from scanner.cli import main

    plat, short = slack_bot(rng), slack_bot(rng)
    export = tmp_path / "export.json"
    export.write_text(json.dumps({
        "secret/data/agents/p": {"data": {"data": {"PLATFORM_KEY": plat},
                                          "metadata": {"version": 1, "custom_metadata": {}}}},
        "secret/data/agents/p-short": {"data": {"data": {"SESSION": short},
                                                "metadata": {"version": 1,
                                                             "custom_metadata": {"expires": "2026-01-10T08:00:00Z"}}}}}))
    inv = write(tmp_path, "agents.yaml", """\
        kind: AgentInventory
        agents:
          - name: p
            platform: {ref: "slack:workspace/acme"}
            credentials:
              - {id: k, vault: "secret/agents/p#PLATFORM_KEY", issuedTo: platform}
              - {id: s, vault: "secret/agents/p-short#SESSION", lifetime: short-lived}
        """)
    args = ["survivors", "p", "--inventory", str(inv), "--at", "2026-01-10", "--format", "json", f"vault-export:{export}"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    got = {c["secret_sha256"]: (c["survives"], c["reason"]) for c in doc["credentials"]}
    assert got == {fingerprint(plat): (True, "platform"), fingerprint(short): (False, None)}
    assert doc["blocked"] is False
    assert CliRunner().invoke(main, [*args, "--strict"]).exit_code == 1


def test_scanned_jwt_exp_claim_kills_it_within_grace(make_repo, tmp_path, rng):
    """End to end: a JWT found by the scan carries its `exp` claim as expiry evidence (never its
    value): the agent's token dies when it expires within the grace period; two days earlier it
    outlives the grace period and, being no short-lived kind, is static until then (`orphaned`)."""
    import base64

    from scanner.pipeline import run_graph

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    exp = int((AT + dt.timedelta(hours=3)).timestamp())
    sig = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(43))
    jwt = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': f'agent-{rng.random()}', 'exp': exp})}.{sig}"
    r = make_repo("jwtbot")
    r.write("README.md", "bot\n")
    r.commit("init")
    r.write(".env", f"SERVICE_TOKEN={jwt}\n")
    inv = write(tmp_path, "agents.yaml", "kind: AgentInventory\nagents:\n  - name: jwtbot\n"
                                         "    credentials: [{id: t, env: [SERVICE_TOKEN]}]\n")
    sg, _ = run_graph([str(r.path)], inv)
    [v] = survivors(sg, "jwtbot", AT).verdicts
    assert v.credential.rule_id == "jwt.token" and dict(v.credential.captures)["exp"] == str(exp)
    assert v.survives is False and "within the grace period" in v.dies_because
    [early] = survivors(sg, "jwtbot", AT - dt.timedelta(days=2)).verdicts
    assert (early.survives, early.reason, early.lifetime) == (True, "orphaned", "static")
