"""Survival gate cases of issue 11: one organisation per case, built from real git repositories,
files and a vault export, run through `sprawlscan survivors` (the full scan), asserting the exact
verdict, reason and exit code. The gate must never say "clear" (exit 0) or "dies" while a
credential still works or is still used elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

from click.testing import CliRunner

from scanner.cli import main
from scanner.model import fingerprint
from tokens import anthropic, generate, github, openai_project, slack_bot

AT = "2026-01-10"
T0 = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)


def vault(tmp_path, entries: dict[str, dict[str, str]], meta: dict[str, dict[str, str]] | None = None) -> str:
    """A vault export (`mount/data/path` → data, custom_metadata) as a `vault-export:` source."""
    doc = {f"secret/data/{path}": {"data": {"data": data, "metadata": {
        "version": 1, "custom_metadata": (meta or {}).get(path, {})}}} for path, data in entries.items()}
    p = tmp_path / "vault.json"
    p.write_text(json.dumps(doc))
    return f"vault-export:{p}"


def survivors(tmp_path, agent: str, inventory: str, *sources, at: str = AT) -> tuple[int, dict]:
    inv = tmp_path / "agents.yaml"
    inv.write_text(textwrap.dedent(inventory))
    res = CliRunner().invoke(main, ["survivors", agent, "--inventory", str(inv), "--at", at, "--format", "json",
                                    *map(str, sources)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    out = res.stdout
    return res.exit_code, json.loads(out[out.index("{"):])


def verdicts(doc: dict) -> dict[str, tuple[bool, str | None]]:
    return {c["secret_sha256"]: (c["survives"], c["reason"]) for c in doc["credentials"]}


def cred(doc: dict, secret: str) -> dict:
    return next(c for c in doc["credentials"] if c["secret_sha256"] == fingerprint(secret))


def gitlab_repo(make_repo, name: str):
    return make_repo(name, origin=f"https://gitlab.com/acme/{name}.git")


# -- 1 ------------------------------------------------------------------------------------------
def test_case01_gitlab_user_variable_named_like_predefined(make_repo, tmp_path, rng):
    """`$GITLAB_TOKEN` is no GitLab predefined variable: the job reaches the token stored under
    that name (orphaned, exit 1); `$CI_JOB_TOKEN` / `$CI_COMMIT_SHA` stay predefined."""
    r = gitlab_repo(make_repo, "deploy")
    r.write(".gitlab-ci.yml", "release:\n  script:\n"
            "    - 'curl -H \"PRIVATE-TOKEN: $GITLAB_TOKEN\" https://gitlab.test/api/v4/projects'\n"
            "    - 'echo $CI_JOB_TOKEN $CI_COMMIT_SHA'\n")
    r.commit("ci")
    tok = generate("gitlab.pat", rng).secret
    inv = """\
    kind: AgentInventory
    agents:
      - name: deployer
        workflows: [{gitlab: "acme/deploy:.gitlab-ci.yml"}]
    """
    code, doc = survivors(tmp_path, "deployer", inv, r.path, vault(tmp_path, {"ci/deploy": {"GITLAB_TOKEN": tok}}))
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")}
    assert doc["unresolved"] == [] and code == 1


# -- 2 ------------------------------------------------------------------------------------------
def test_case02_gitlab_job_variables_and_project_precedence(make_repo, tmp_path, rng):
    """A `variables:` entry of one job (`lint`) does not hide the name in another (`deploy`), and
    an empty YAML placeholder does not hide a project variable (project > YAML): deploy reaches
    both tokens (shared with the builder that declares the project variable; orphaned)."""
    r = gitlab_repo(make_repo, "deploy")
    r.write(".gitlab-ci.yml", textwrap.dedent("""\
        variables:
          LOG_LEVEL: info
        lint:
          variables:
            NPM_TOKEN: ""
          script: [npm run lint]
        deploy:
          variables:
            REGISTRY_TOKEN: ""
          script:
            - docker login -p "$REGISTRY_TOKEN" registry.test
            - npm publish --token "$NPM_TOKEN" --loglevel "$LOG_LEVEL"
        """))
    r.commit("ci")
    reg, npm = generate("gitlab.pat", rng).secret, generate("gitlab.pat", rng).secret
    inv = """\
    kind: AgentInventory
    agents:
      - name: deployer
        workflows: [{gitlab: "acme/deploy:.gitlab-ci.yml"}]
      - name: builder
        credentials:
          - {id: registry, vault: "secret/agents/builder#REGISTRY_TOKEN", ci: [{gitlab: "acme/deploy:REGISTRY_TOKEN"}]}
    """
    export = vault(tmp_path, {"agents/builder": {"REGISTRY_TOKEN": reg}, "ci/npm": {"NPM_TOKEN": npm}})
    code, doc = survivors(tmp_path, "deployer", inv, r.path, export)
    assert verdicts(doc) == {fingerprint(reg): (True, "shared"), fingerprint(npm): (True, "orphaned")}
    assert cred(doc, reg)["other_holders"] == ["agent:builder"]
    assert code == 1


# -- 3 ------------------------------------------------------------------------------------------
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


def test_case03_github_secrets_map_with_fallback_binds_both(make_repo, tmp_path, rng):
    """`SLACK_TOKEN: ${{ secrets.A_SLACK || secrets.B_SLACK }}` may pass either value: the
    short-lived A dies within grace, but B (the fallback) is reached too and survives orphaned."""
    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("notify")
    r = make_repo("notifier")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
            "    uses: acme/shared-ci/.github/workflows/notify.yml@main\n"
            "    secrets:\n      SLACK_TOKEN: ${{ secrets.A_SLACK || secrets.B_SLACK }}\n")
    r.commit("run")
    a, b = slack_bot(rng), slack_bot(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: notifier
        workflows: [{github: acme/notifier/.github/workflows/run.yml}]
        credentials:
          - {id: a, vault: "secret/agents/notifier#A_SLACK", ci: [{github: "acme/notifier:A_SLACK"}],
             lifetime: short-lived, expires: "2026-01-10T02:00:00Z"}
    """
    export = vault(tmp_path, {"agents/notifier": {"A_SLACK": a}, "ci/notifier": {"B_SLACK": b}})
    code, doc = survivors(tmp_path, "notifier", inv, shared.path, r.path, export)
    assert verdicts(doc) == {fingerprint(a): (False, None), fingerprint(b): (True, "orphaned")}
    assert code == 1


# -- 4 ------------------------------------------------------------------------------------------
def test_case04_github_expression_environment(make_repo, tmp_path, rng):
    """`environment: ${{ matrix.env }}` is every environment of the matrix (staging and
    production secrets, not the org fallback); `${{ inputs.target }}` with no known values is an
    unresolved reference that blocks."""
    r = make_repo("svc")
    r.write(".github/workflows/deploy.yml", textwrap.dedent("""\
        on:
          push:
          workflow_dispatch:
            inputs:
              target: {type: string}
        jobs:
          deploy:
            strategy:
              matrix:
                env: [staging, production]
            environment: ${{ matrix.env }}
            runs-on: ubuntu-latest
            steps: [{run: 'deploy ${{ secrets.DEPLOY_KEY }}'}]
          manual:
            environment: ${{ inputs.target }}
            runs-on: ubuntu-latest
            steps: [{run: 'deploy ${{ secrets.MANUAL_KEY }}'}]
        """))
    r.commit("ci")
    vals = {k: github(rng) for k in ("STAGING", "PROD", "ORG")}
    inv = """\
    kind: AgentInventory
    agents:
      - name: deployer
        workflows: [{github: acme/svc/.github/workflows/deploy.yml}]
      - name: holder
        credentials:
          - {id: s, vault: "secret/h#STAGING", ci: [{github: "acme/svc:DEPLOY_KEY@staging"}]}
          - {id: p, vault: "secret/h#PROD", ci: [{github: "acme/svc:DEPLOY_KEY@production"}]}
          - {id: o, vault: "secret/h#ORG", ci: [{github: "org:acme:DEPLOY_KEY"}]}
    """
    code, doc = survivors(tmp_path, "deployer", inv, r.path, vault(tmp_path, {"h": vals}))
    assert verdicts(doc) == {fingerprint(vals["STAGING"]): (True, "shared"), fingerprint(vals["PROD"]): (True, "shared")}
    [u] = doc["unresolved"]
    assert u["name"] == "MANUAL_KEY" and "expression" in u["why"]
    assert code == 1


# -- 5 ------------------------------------------------------------------------------------------
def test_case05_ambiguous_reference_in_surviving_workflow_blocks(make_repo, tmp_path, rng):
    """nightly.yml reads OPENAI_API_KEY, a name the vault now stores twice (triage's key and an
    unrelated agent's): the ambiguous reference is a possible consumer of both, so triage's
    platform key stays `shared` (blocked) instead of flipping to clear."""
    r = make_repo("reports")
    r.write(".github/workflows/nightly.yml", "on: {schedule: [{cron: '0 3 * * *'}]}\njobs:\n  n:\n"
            "    runs-on: x\n    steps: [{run: 'report ${{ secrets.OPENAI_API_KEY }}'}]\n")
    r.commit("nightly")
    mine, other = openai_project(rng), openai_project(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: triage
        platform: {ref: "openai:org-acme/proj_support"}
        credentials:
          - {id: key, provider: openai, vault: "secret/agents/triage#OPENAI_API_KEY", issuedTo: platform}
      - name: eval
        credentials: [{id: key, vault: "secret/agents/eval#OPENAI_API_KEY"}]
    """
    code, doc = survivors(tmp_path, "triage", inv, r.path,
                          vault(tmp_path, {"agents/triage": {"OPENAI_API_KEY": mine}}))
    assert verdicts(doc) == {fingerprint(mine): (True, "shared")} and code == 1
    code, doc = survivors(tmp_path, "triage", inv, r.path, vault(tmp_path, {
        "agents/triage": {"OPENAI_API_KEY": mine}, "agents/eval": {"OPENAI_API_KEY": other}}))
    assert verdicts(doc) == {fingerprint(mine): (True, "shared")}
    assert "workflow:github:acme/reports:.github/workflows/nightly.yml" in cred(doc, mine)["other_holders"]
    assert code == 1


# -- 6 ------------------------------------------------------------------------------------------
def test_case06_configs_and_code_of_other_services_are_consumers(make_repo, tmp_path, rng):
    """A compose service, an MCP server, a LangGraph config and code of other services that read
    the key are live consumers: triage's platform-issued key is `shared`, not `platform`."""
    kb = make_repo("kb-service")
    kb.write("docker-compose.yml", "services:\n  indexer:\n    image: kb\n"
             "    environment:\n      OPENAI_API_KEY: ${OPENAI_API_KEY}\n")
    kb.write("worker.py", "import os\n\nkey = os.environ[\"OPENAI_API_KEY\"]\n")
    kb.commit("kb")
    ops = make_repo("ops-tools")
    ops.write(".mcp.json", json.dumps({"mcpServers": {"search": {"command": "search-mcp",
                                                                 "env": {"OPENAI_API_KEY": "${env:OPENAI_API_KEY}"}}}}))
    ops.write("langgraph.json", json.dumps({"graphs": {"g": "./g.py:graph"},
                                            "env": {"OPENAI_API_KEY": "${OPENAI_API_KEY}"}}))
    ops.commit("ops")
    key = openai_project(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: triage
        platform: {ref: "openai:org-acme/proj_support"}
        credentials:
          - {id: key, provider: openai, vault: "secret/agents/triage#OPENAI_API_KEY", issuedTo: platform}
    """
    code, doc = survivors(tmp_path, "triage", inv, kb.path, ops.path,
                          vault(tmp_path, {"agents/triage": {"OPENAI_API_KEY": key}}))
    assert verdicts(doc) == {fingerprint(key): (True, "shared")}
    assert set(cred(doc, key)["other_holders"]) == {
        "workflow:compose:acme/kb-service:docker-compose.yml#indexer", "workflow:code:acme/kb-service:worker.py",
        "workflow:mcp:acme/ops-tools:.mcp.json#search", "workflow:langgraph:acme/ops-tools:langgraph.json"}
    assert code == 1


# -- 7 ------------------------------------------------------------------------------------------
def test_case07_github_reusable_workflow_at_pinned_ref(make_repo, tmp_path, rng):
    """`uses: .../notify.yml@v1` is evaluated at tag v1 (which reads SLACK_TOKEN), not at HEAD
    (which no longer does): the mapped token is reached (orphaned); a call pinned to a ref the
    repository does not have is unresolved."""
    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("notify v1")
    shared.git("tag", "v1")
    shared.write(".github/workflows/notify.yml", NOTIFY.replace("${{ secrets.SLACK_TOKEN }}", "none"))
    shared.commit("notify v2: no token")
    r = make_repo("bot")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
            "    uses: acme/shared-ci/.github/workflows/notify.yml@v1\n"
            "    secrets:\n      SLACK_TOKEN: ${{ secrets.BOT_SLACK }}\n"
            "  later:\n    uses: acme/shared-ci/.github/workflows/notify.yml@v9\n"
            "    secrets:\n      SLACK_TOKEN: ${{ secrets.BOT_SLACK }}\n")
    r.commit("run")
    tok = slack_bot(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: bot
        workflows: [{github: acme/bot/.github/workflows/run.yml}]
    """
    code, doc = survivors(tmp_path, "bot", inv, shared.path, r.path, vault(tmp_path, {"ci/bot": {"BOT_SLACK": tok}}))
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")}
    assert any(".github/workflows/notify.yml@v1" in n for n in cred(doc, tok)["reached_via"][0])
    [u] = doc["unresolved"]
    assert u["name"] == "workflow:github:acme/shared-ci:.github/workflows/notify.yml@v9"
    assert "v9" in u["why"] and "not available" in u["why"]
    assert code == 1


def test_case07_gitlab_include_at_pinned_ref(make_repo, tmp_path, rng):
    """GitLab `include: project/ref/file` is read at that ref from the project's git objects."""
    tpl = gitlab_repo(make_repo, "templates")
    tpl.write("deploy.yml", "deploy:\n  script: ['push --token \"$DEPLOY_TOKEN\"']\n")
    tpl.commit("v1")
    tpl.git("tag", "v1")
    tpl.write("deploy.yml", "deploy:\n  script: ['echo nothing']\n")
    tpl.commit("v2")
    app = gitlab_repo(make_repo, "app")
    app.write(".gitlab-ci.yml", "include:\n  - project: acme/templates\n    ref: v1\n    file: deploy.yml\n")
    app.commit("ci")
    tok = generate("gitlab.pat", rng).secret
    inv = """\
    kind: AgentInventory
    agents:
      - name: app
        workflows: [{gitlab: "acme/app:.gitlab-ci.yml"}]
    """
    code, doc = survivors(tmp_path, "app", inv, tpl.path, app.path, vault(tmp_path, {"ci/app": {"DEPLOY_TOKEN": tok}}))
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")} and code == 1


# -- 8 ------------------------------------------------------------------------------------------
def test_case08_gitlab_component_and_unfollowed_includes_block(make_repo, tmp_path):
    """`include: component:` and a GitLab template are not followed: each is an unresolved
    reference that blocks the gate (exit 1), never silently skipped."""
    app = gitlab_repo(make_repo, "app")
    app.write(".gitlab-ci.yml", "include:\n  - component: $CI_SERVER_FQDN/acme/components/deploy@1.0\n"
              "  - template: Jobs/SAST.gitlab-ci.yml\ntest:\n  script: [make test]\n")
    app.commit("ci")
    inv = """\
    kind: AgentInventory
    agents:
      - name: app
        workflows: [{gitlab: "acme/app:.gitlab-ci.yml"}]
    """
    code, doc = survivors(tmp_path, "app", inv, app.path)
    assert doc["credentials"] == []
    whys = {u["name"]: u["why"] for u in doc["unresolved"]}
    assert set(whys) == {"workflow:gitlab:component:$CI_SERVER_FQDN/acme/components/deploy@1.0",
                         "workflow:gitlab:gitlab-templates:Jobs/SAST.gitlab-ci.yml"}
    assert all("not followed" in w for w in whys.values())
    assert code == 1


# -- 9 ------------------------------------------------------------------------------------------
def test_case09_compose_env_file_and_dotenv_interpolation(make_repo, tmp_path, rng):
    """Compose `env_file:` (relative to the compose file) and `${X}` interpolated from the `.env`
    next to it give the services the agent's keys: both platform keys are `shared`."""
    kb = make_repo("kb")
    okey, akey = openai_project(rng), anthropic(rng)
    kb.write("deploy/docker-compose.yml", "services:\n  worker:\n    image: w\n    env_file: ./config/worker.env\n"
             "  api:\n    image: a\n    environment:\n      ANTHROPIC_API_KEY: ${ANTHROPIC_API_KEY}\n")
    kb.write("deploy/config/worker.env", f"OPENAI_API_KEY={okey}\n")
    kb.write("deploy/.env", f"ANTHROPIC_API_KEY={akey}\n")
    kb.commit("deploy")
    inv = """\
    kind: AgentInventory
    agents:
      - name: summarizer
        platform: {ref: "openai:org-acme/proj_kb"}
        credentials:
          - {id: o, provider: openai, vault: "secret/agents/summarizer#OPENAI_API_KEY", issuedTo: platform}
          - {id: a, provider: anthropic, vault: "secret/agents/summarizer#ANTHROPIC_API_KEY", issuedTo: platform}
    """
    code, doc = survivors(tmp_path, "summarizer", inv, kb.path, vault(tmp_path, {
        "agents/summarizer": {"OPENAI_API_KEY": okey, "ANTHROPIC_API_KEY": akey}}))
    assert verdicts(doc) == {fingerprint(okey): (True, "shared"), fingerprint(akey): (True, "shared")}
    assert cred(doc, okey)["other_holders"] == ["workflow:compose:acme/kb:deploy/docker-compose.yml#worker"]
    assert cred(doc, akey)["other_holders"] == ["workflow:compose:acme/kb:deploy/docker-compose.yml#api"]
    assert code == 1


# -- 10 -----------------------------------------------------------------------------------------
def test_case10_identity_without_exclusive_is_orphaned_not_platform(tmp_path, rng):
    """A key issued to the agent's own identity, not marked exclusive and held by nobody else, is
    `orphaned` (blocking): `platform` needs a platform identity that outlives the agent."""
    key = openai_project(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: triage
        identities: [{ref: "openai:proj_support/svcacct/triage"}]
        credentials:
          - {id: key, provider: openai, vault: "secret/agents/triage#OPENAI_API_KEY", issuedTo: identity}
    """
    code, doc = survivors(tmp_path, "triage", inv, vault(tmp_path, {"agents/triage": {"OPENAI_API_KEY": key}}))
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned")} and code == 1


# -- 11 -----------------------------------------------------------------------------------------
def _jwt(rng, exp: int) -> str:
    import base64

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    sig = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") for _ in range(43))
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': f'svc-{rng.random()}', 'exp': exp})}.{sig}"


def test_case11_jwt_valid_for_years_is_static(make_repo, tmp_path, rng):
    """A JWT whose `exp` is in 2036 is not short-lived: it is static until then, so it survives
    `orphaned` (exit 1) with its expiry shown, not `expiring`."""
    exp = int(dt.datetime(2036, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    tok = _jwt(rng, exp)
    r = make_repo("jwtbot")
    r.write(".env", f"SERVICE_TOKEN={tok}\n")
    r.commit("env")
    inv = """\
    kind: AgentInventory
    agents:
      - name: jwtbot
        credentials: [{id: t, env: [SERVICE_TOKEN]}]
    """
    code, doc = survivors(tmp_path, "jwtbot", inv, r.path)
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")}
    c = cred(doc, tok)
    assert (c["lifetime"], c["expires"]) == ("static", "2036-01-01T00:00:00+00:00")
    assert code == 1


# -- 12 -----------------------------------------------------------------------------------------
def test_case12_every_declared_source_is_reached(make_repo, tmp_path, rng):
    """The declaration names a vault path and an env var: the vault value expires within grace
    and dies, but the older value in the agent's own `.env` under the declared name is reached
    too and, showing no expiry, survives `orphaned`."""
    r = make_repo("notifier")
    old, new = slack_bot(rng), slack_bot(rng)
    r.write(".env", f"SLACK_BOT_TOKEN={old}\n")
    r.write("bot.py", "import os\n\ntoken = os.environ[\"SLACK_BOT_TOKEN\"]\n")
    r.commit("bot")
    inv = """\
    kind: AgentInventory
    agents:
      - name: notifier
        workflows: [{code: "acme/notifier:bot.py"}]
        credentials:
          - {id: slack, vault: "secret/agents/notifier#SLACK_BOT_TOKEN", env: [SLACK_BOT_TOKEN], lifetime: short-lived}
    """
    export = vault(tmp_path, {"agents/notifier": {"SLACK_BOT_TOKEN": new}},
                   {"agents/notifier": {"expires": "2026-01-10T03:00:00Z"}})
    code, doc = survivors(tmp_path, "notifier", inv, r.path, export)
    assert verdicts(doc) == {fingerprint(new): (False, None), fingerprint(old): (True, "orphaned")}
    assert cred(doc, old)["expires"] is None and "expiry unknown" in cred(doc, old)["action"]
    assert code == 1


# -- 13 -----------------------------------------------------------------------------------------
def test_case13_conflicting_expiry_latest_counts_and_blocks(tmp_path, rng):
    """The inventory says the token expires in three days, a stale vault `custom_metadata.expires`
    says this morning: the latest stated expiry counts (it survives, `expiring`) and the conflict
    is reported and blocks (exit 1)."""
    tok = slack_bot(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: poster
        credentials:
          - {id: t, vault: "secret/agents/poster#TOKEN", lifetime: short-lived, expires: "2026-01-13T00:00:00Z"}
    """
    export = vault(tmp_path, {"agents/poster": {"TOKEN": tok}}, {"agents/poster": {"expires": "2026-01-10T05:00:00Z"}})
    code, doc = survivors(tmp_path, "poster", inv, export)
    assert verdicts(doc) == {fingerprint(tok): (True, "expiring")}
    c = cred(doc, tok)
    assert c["expires"] == "2026-01-13T00:00:00+00:00"
    assert len(c["conflicts"]) == 1 and "2026-01-10T05:00:00+00:00" in c["conflicts"][0]
    assert doc["blocked"] is True and code == 1


# -- 14 -----------------------------------------------------------------------------------------
def test_case14_short_lived_rule_without_expiry_is_not_expiring(tmp_path, rng):
    """An Anthropic session key is short-lived by nature but shows no expiry: unknown expiry is
    not expiry, so it survives `orphaned` (exit 1) and the report says its expiry is unknown."""
    sess = generate("anthropic.session", rng).secret
    inv = """\
    kind: AgentInventory
    agents:
      - name: scraper
        credentials: [{id: s, vault: "secret/agents/scraper#sessionKey"}]
    """
    code, doc = survivors(tmp_path, "scraper", inv, vault(tmp_path, {"agents/scraper": {"sessionKey": sess}}))
    assert verdicts(doc) == {fingerprint(sess): (True, "orphaned")}
    c = cred(doc, sess)
    assert c["rule_id"] == "anthropic.session" and c["expires"] is None and "expiry unknown" in c["action"]
    assert code == 1


# -- false blocks -------------------------------------------------------------------------------
def _kb_repo(make_repo, key: str, extra_env: str):
    r = make_repo("kb")
    r.write(".mcp.json", json.dumps({"mcpServers": {"jira": {"command": "jira-mcp", "env": {
        "JIRA_URL": "https://jira.acme.test", "LOG_LEVEL": "info", "SLACK_TEAM_ID": "T01ABCDEF",
        "JIRA_PROJECT": extra_env}}}}, indent=2))
    r.write("langgraph.json", json.dumps({"graphs": {"kb": "./kb.py:graph"}, "env": ".env"}))
    r.write(".env", f"LOG_LEVEL=debug\nKB_INDEX=kb-prod\nOPENAI_API_KEY={key}\n")
    r.commit("kb")
    return r


KB_INVENTORY = """\
kind: AgentInventory
agents:
  - name: kb
    platform: {ref: "openai:org-acme/proj_kb"}
    workflows: [{mcp: "acme/kb:.mcp.json"}, {langgraph: "acme/kb:langgraph.json"}]
    credentials:
      - {id: key, provider: openai, env: [OPENAI_API_KEY], issuedTo: platform}
"""


def test_literal_config_values_and_non_secret_names_do_not_block(make_repo, tmp_path, rng):
    """Literal MCP `env` values and LangGraph `.env` lines (`LOG_LEVEL`, `JIRA_URL`, a Slack team
    id, `KB_INDEX`) are values, not references; an unbound `${env:KB_REGION}` names nothing secret:
    `unresolved-config`, reported but not blocking. The platform key alone: exit 0."""
    key = openai_project(rng)
    r = _kb_repo(make_repo, key, "${env:KB_REGION}")
    code, doc = survivors(tmp_path, "kb", KB_INVENTORY, r.path)
    assert verdicts(doc) == {fingerprint(key): (True, "platform")}
    assert doc["unresolved"] == []
    assert [u["name"] for u in doc["unresolved_config"]] == ["KB_REGION"]
    assert code == 0


def test_unbound_secret_like_name_in_a_config_blocks(make_repo, tmp_path, rng):
    """The same config reading `${env:JIRA_API_TOKEN}`, which nothing binds: a secret-like name is
    an unresolved reference that blocks (exit 1)."""
    key = openai_project(rng)
    r = _kb_repo(make_repo, key, "${env:JIRA_API_TOKEN}")
    code, doc = survivors(tmp_path, "kb", KB_INVENTORY, r.path)
    assert verdicts(doc) == {fingerprint(key): (True, "platform")}
    assert [u["name"] for u in doc["unresolved"]] == ["JIRA_API_TOKEN"] and doc["unresolved_config"] == []
    assert code == 1


def test_federated_credential_dies_with_its_role_or_survives_as_platform(tmp_path):
    """`lifetime: federated` (OIDC / workload identity) has no stored value and is never
    unresolved: issued to the agent's exclusive role it dies with it (exit 0); issued to a
    platform that outlives the agent it survives as `platform` (exit 0); with no role named it
    is `orphaned` (exit 1)."""
    inv = """\
    kind: AgentInventory
    agents:
      - name: deployer
        platform: {ref: "gcp:projects/acme-prod"}
        identities: [{ref: "gcp:wif/pool-agents/deployer", exclusive: true}]
        credentials:
          - {id: wif, provider: gcp, lifetime: federated, issuedTo: identity, principal: "gcp:wif/pool-agents/deployer"}
          - {id: oidc, provider: aws, lifetime: federated, issuedTo: platform}
      - name: loose
        credentials:
          - {id: oidc, provider: aws, lifetime: federated}
    """
    export = tmp_path / "nothing-stored"  # a scanned place with no copies: federated has no value
    export.mkdir()
    code, doc = survivors(tmp_path, "deployer", inv, export)
    got = {c["redacted"]: (c["survives"], c["reason"]) for c in doc["credentials"]}
    assert got == {"federated:deployer#wif": (False, None), "federated:deployer#oidc": (True, "platform")}
    assert doc["unresolved"] == [] and code == 0
    code, doc = survivors(tmp_path, "loose", inv, export)
    assert [(c["survives"], c["reason"]) for c in doc["credentials"]] == [(True, "orphaned")] and code == 1


def test_non_credential_companions_are_neither_credentials_nor_blocking(make_repo, tmp_path, rng):
    """An AWS access key id alone, a role ARN and a region kept next to a secret are not
    credentials and their unbound names do not block; the workflow's real key still decides."""
    from tokens import aws_pair

    key_id, _ = aws_pair(rng)
    r = make_repo("infra")
    r.write(".github/workflows/deploy.yml", textwrap.dedent("""\
        on: push
        jobs:
          d:
            runs-on: x
            steps:
              - run: deploy
                env:
                  AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
                  AWS_ROLE_ARN: ${{ secrets.AWS_ROLE_ARN }}
                  AWS_REGION: ${{ secrets.AWS_REGION }}
        """))
    r.write(".mcp.json", json.dumps({"mcpServers": {"s3": {"command": "s3-mcp", "env": {
        "AWS_ACCESS_KEY_ID": key_id, "AWS_REGION": "eu-west-1",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/agent-infra"}}}}, indent=2))
    r.commit("infra")
    inv = """\
    kind: AgentInventory
    agents:
      - name: infra
        workflows: [{github: acme/infra/.github/workflows/deploy.yml}, {mcp: "acme/infra:.mcp.json"}]
    """
    code, doc = survivors(tmp_path, "infra", inv, r.path)
    assert doc["credentials"] == [] and doc["unresolved"] == []
    assert sorted(u["name"] for u in doc["unresolved_config"]) == ["AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_ROLE_ARN"]
    assert code == 0


def test_orphaned_key_with_a_copy_in_an_unmodelled_file_says_so(make_repo, tmp_path, rng):
    """A key the agent's own compose service reads from its `.env`, also pasted into another
    directory's `config.json` (a file no parser models): still `orphaned` and blocking, but the
    action names that copy instead of claiming nothing else uses the key; the agent's own `.env`
    is not listed. Without the stray copy the plain wording stays.
    The inventory names the compose file without `#service`: that means every service in it
    (before, the file node alone read as "references nothing" and the gate said clear, exit 0)."""
    key = openai_project(rng)
    r = make_repo("bots")
    r.write("agent_a/docker-compose.yml", "services:\n  a:\n    image: a\n    env_file: .env\n")
    r.write("agent_a/.env", f"OPENAI_API_KEY={key}\n")
    r.write("agent_b/config.json", json.dumps({"openai": {"key": key}}))
    r.commit("bots")
    inv = """\
    kind: AgentInventory
    agents:
      - name: agent-a
        workflows: [{compose: "acme/bots:agent_a/docker-compose.yml"}]
      - name: agent-b
    """
    code, doc = survivors(tmp_path, "agent-a", inv, r.path)
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned")} and code == 1
    action = cred(doc, key)["action"]
    assert "agent_b/config.json:1" in action and "nothing else uses it" not in action
    assert "agent_a/.env" not in action
    (r.path / "agent_b" / "config.json").unlink()
    r.commit("drop the copy")
    code, doc = survivors(tmp_path, "agent-a", inv, r.path)
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned")} and code == 1
    assert "nothing else uses it" in cred(doc, key)["action"]


# -- red-team holes: the gate said clear (exit 0) while the agent still used a working key -------
RUNS = """\
kind: AgentInventory
agents:
  - name: a
    workflows: [%s]
  - name: b
"""


def test_key_written_into_code_or_a_workflow_the_agent_runs_is_reached(make_repo, tmp_path, rng):
    """A key hard-coded in code the agent runs (no `os.environ` read at all), in a workflow's
    `env:` and in an MCP config of a shape no parser models is still the agent's: each survives
    `orphaned` (exit 1). Before, none was reached and the gate said clear (exit 0)."""
    in_code, in_wf, in_mcp = openai_project(rng), openai_project(rng), openai_project(rng)
    r = make_repo("bots")
    r.write("agent.py", f'KEY = "{in_code}"\nprint(len(KEY))\n')
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  j:\n    runs-on: x\n    env:\n"
            f"      OPENAI_API_KEY: {in_wf}\n    steps: [{{run: ./run}}]\n")
    r.write(".mcp.json", json.dumps({"mcp": {"servers": {"s": {"command": "x", "env": {"OPENAI_API_KEY": in_mcp}}}}}))
    r.commit("bots")
    code, doc = survivors(tmp_path, "a", RUNS % '{code: "acme/bots:agent.py"}', r.path)
    assert verdicts(doc) == {fingerprint(in_code): (True, "orphaned")} and code == 1
    assert cred(doc, in_code)["resolved_by"] == ["value written in agent.py:1"]
    code, doc = survivors(tmp_path, "a", RUNS % "{github: acme/bots/.github/workflows/run.yml}", r.path)
    assert verdicts(doc) == {fingerprint(in_wf): (True, "orphaned")} and code == 1
    code, doc = survivors(tmp_path, "a", RUNS % '{mcp: "acme/bots:.mcp.json"}', r.path)
    assert verdicts(doc) == {fingerprint(in_mcp): (True, "orphaned")} and code == 1
    [u] = doc["unresolved"]
    assert "no MCP server entry found" in u["why"]


def test_config_the_agent_runs_that_cannot_be_parsed_blocks(make_repo, tmp_path, rng):
    """A compose file or a CrewAI config the agent runs that is not valid YAML is unresolved
    ("cannot be read"), exit 1; before, it read as "references nothing" and the gate said clear
    although the compose service reads the key from its `.env`."""
    key = openai_project(rng)
    r = make_repo("bots")
    r.write("docker-compose.yml", "services:\n  a:\n    image: a\n    env_file: .env\n  b: [\n")
    r.write(".env", f"OPENAI_API_KEY={key}\n")
    r.write("config/agents.yaml", "researcher:\n  role: r\n  llm: [\n")
    r.commit("bots")
    for ref in ('{compose: "acme/bots:docker-compose.yml"}', '{crewai: "acme/bots:config/agents.yaml"}'):
        code, doc = survivors(tmp_path, "a", RUNS % ref, r.path)
        [u] = doc["unresolved"]
        assert u["why"] == "cannot be read: not valid YAML" and code == 1, ref


def test_expiry_without_a_time_zone_is_read_at_its_latest_instant(tmp_path, rng):
    """An expiry stated as a bare date, or a date-time without a zone (inventory or vault
    metadata), may mean a later instant than UTC: at 06:00 UTC on that day, with no grace, the
    short-lived token may still work, so it survives (`expiring`, its expiry read at UTC-12);
    before, it read as 00:00 / 03:00 UTC and the gate said it dies. A zoned expiry keeps dying."""
    tok = slack_bot(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: poster
        credentials: [{id: t, vault: "secret/agents/poster#TOKEN", lifetime: short-lived, %s}]
    """
    export = vault(tmp_path, {"agents/poster": {"TOKEN": tok}})
    for stated, latest in (('expires: "2026-01-10"', "2026-01-11T00:00:00-12:00"),
                           ('expires: "2026-01-10T03:00:00"', "2026-01-10T03:00:00-12:00")):
        code, doc = survivors(tmp_path, "poster", inv % stated, export, "--grace", "0", at="2026-01-10T06:00:00Z")
        assert verdicts(doc) == {fingerprint(tok): (True, "expiring")}, stated
        assert cred(doc, tok)["expires"] == latest
    code, doc = survivors(tmp_path, "poster", inv % 'expires: "2026-01-10T03:00:00Z"', export, "--grace", "0",
                          at="2026-01-10T06:00:00Z")
    assert verdicts(doc) == {fingerprint(tok): (False, None)} and code == 0
    meta = vault(tmp_path, {"agents/poster": {"TOKEN": tok}}, {"agents/poster": {"expires": "2026-01-10"}})
    code, doc = survivors(tmp_path, "poster", inv % "provider: slack", meta, "--grace", "0", at="2026-01-10T06:00:00Z")
    assert verdicts(doc) == {fingerprint(tok): (True, "expiring")}


def test_dotenv_the_scan_did_not_read_blocks(make_repo, tmp_path, rng):
    """The `.env` a compose service or a LangGraph config reads is over `--max-file-size` (git
    repository, folder) or `--exclude`d (folder): the scan never looked for values in it, so the
    reference is unresolved (exit 1); before, the graph still read its lines as "values no rule
    recognises" and the gate said clear (exit 0). Read in full, the key is reached (orphaned)."""
    key = openai_project(rng)
    dotenv = f"OPENAI_API_KEY={key}\n" + "# padding\n" * 60
    compose = "services:\n  a:\n    image: a\n    env_file: .env\n"
    r = make_repo("bots")
    r.write("docker-compose.yml", compose)
    r.write("langgraph.json", json.dumps({"graphs": {"g": "./g.py:graph"}, "env": ".env"}))
    r.write(".env", dotenv)
    r.commit("bots")
    d = tmp_path / "plain"
    d.mkdir()
    (d / "docker-compose.yml").write_text(compose)
    (d / ".env").write_text(dotenv)
    # in the repository the compose service and the LangGraph config both read the key: shared
    for ref, source, flags, read in (
            ('{compose: "acme/bots:docker-compose.yml"}', r.path, ("--max-file-size", "300"), "shared"),
            ('{langgraph: "acme/bots:langgraph.json"}', r.path, ("--max-file-size", "300"), "shared"),
            (f'{{compose: "{d}:docker-compose.yml"}}', d, ("--max-file-size", "300"), "orphaned"),
            (f'{{compose: "{d}:docker-compose.yml"}}', d, ("--exclude", ".env"), "orphaned")):
        code, doc = survivors(tmp_path, "a", RUNS % ref, source, *flags)
        [u] = doc["unresolved"]
        assert u["why"] == "env_file .env is not among the scanned files" and code == 1, (ref, flags)
        code, doc = survivors(tmp_path, "a", RUNS % ref, source)
        assert verdicts(doc) == {fingerprint(key): (True, read)} and code == 1, ref


def test_exclusive_identity_another_agent_runs_as_blocks(tmp_path, rng):
    """X declares its identity `exclusive: true`, yet another live agent runs as it (or has it as
    its platform): the key issued to it survives (`platform`), and the contradiction is reported
    and blocks (exit 1); before, `platform` passed the gate (exit 0). When that other agent is
    retired, the identity is X's alone and the key dies with it (exit 0)."""
    key = openai_project(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: a
        identities: [{ref: "openai:svc/a", exclusive: true}]
        credentials: [{id: k, provider: openai, vault: "secret/agents/a#K", issuedTo: identity}]
      - name: b
        %s
    """
    export = vault(tmp_path, {"agents/a": {"K": key}})
    for b in ('identities: [{ref: "openai:svc/a"}]', 'platform: {ref: "openai:svc/a"}'):
        code, doc = survivors(tmp_path, "a", inv % b, export)
        assert verdicts(doc) == {fingerprint(key): (True, "platform")} and code == 1, b
        [c] = cred(doc, key)["conflicts"]
        assert "declared exclusive to a, but b also runs as it" in c
    code, doc = survivors(tmp_path, "a", inv % 'lifecycle: retired\n        identities: [{ref: "openai:svc/a"}]', export)
    assert verdicts(doc) == {fingerprint(key): (False, None)} and code == 0


def test_declared_expiry_alone_never_kills_a_key_of_unknown_or_static_lifetime(tmp_path, rng):
    """An OpenAI key (its provider never expires keys) with an `expires` from the inventory or
    the vault's metadata, and no declared lifetime, survives `orphaned` (exit 1) and says why the
    date is not believed; before, the gate said it dies (exit 0). Declared `short-lived`, the
    declaration contradicts the rule: it survives, the contradiction is reported. A JWT whose own
    `exp` has passed still dies: that expiry is the value's, not a declaration."""
    key = openai_project(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: triage
        credentials: [{id: k, vault: "secret/agents/triage#OPENAI_API_KEY"%s}]
    """
    plain = vault(tmp_path, {"agents/triage": {"OPENAI_API_KEY": key}})
    meta = vault(tmp_path, {"agents/triage": {"OPENAI_API_KEY": key}}, {"agents/triage": {"expires": "2026-01-09T00:00:00Z"}})
    for extra, export in ((', expires: "2026-01-09T00:00:00Z"', plain), ("", meta)):
        code, doc = survivors(tmp_path, "triage", inv % extra, export)
        assert verdicts(doc) == {fingerprint(key): (True, "orphaned")} and code == 1, extra
        c = cred(doc, key)
        assert c["lifetime"] == "static" and "nothing shows that a openai.project expires" in c["action"]
    code, doc = survivors(tmp_path, "triage", inv % ', lifetime: short-lived, expires: "2026-01-09T00:00:00Z"', plain)
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned")} and code == 1
    [conflict] = cred(doc, key)["conflicts"]
    assert "declared short-lived, but OpenAI API keys have no expiry (openai.project)" in conflict
    tok = _jwt(rng, int((T0 - dt.timedelta(hours=1)).timestamp()))
    code, doc = survivors(tmp_path, "triage", inv.replace("OPENAI_API_KEY", "TOKEN") % "",
                          vault(tmp_path, {"agents/triage": {"TOKEN": tok}}))
    assert verdicts(doc) == {fingerprint(tok): (False, None)} and code == 0


def test_short_lived_credential_that_outlives_its_kind_blocks(tmp_path, rng):
    """A Slack token declared `short-lived` that works until 2036 is not short-lived: beyond the
    7-day default bound it survives `orphaned` with the contradiction stated (exit 1); before, it
    was `expiring` and the gate passed (exit 0). `--max-short-lived 3700d` restores
    `expiring` (exit 0). A GitHub App installation token (at most 1 hour, documented) stated to
    expire in three days blocks the same way; a bad bound is one line, exit 2."""
    tok, ghs = slack_bot(rng), github(rng, prefix="ghs")
    inv = """\
    kind: AgentInventory
    agents:
      - name: poster
        credentials:
          - {id: t, vault: "secret/agents/poster#TOKEN", lifetime: short-lived, expires: "2036-01-01T00:00:00Z"}
          - {id: app, vault: "secret/agents/poster#GH", expires: "2026-01-13T00:00:00Z"}
    """
    export = vault(tmp_path, {"agents/poster": {"TOKEN": tok, "GH": ghs}})
    code, doc = survivors(tmp_path, "poster", inv, export)
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned"), fingerprint(ghs): (True, "orphaned")}
    assert code == 1 and doc["blocked"] is True
    [slack] = cred(doc, tok)["conflicts"]
    assert "declared short-lived, but it works until 2036-01-01T00:00:00+00:00" in slack
    assert "longer than the assumed (--max-short-lived) 7 days" in slack
    [app] = cred(doc, ghs)["conflicts"]
    assert cred(doc, ghs)["rule_id"] == "github.installation"
    assert "github.installation is short-lived, but it works until 2026-01-13T00:00:00+00:00 (3 days away)" in app
    assert "longer than the documented 1 h" in app
    only_slack = inv.replace('          - {id: app, vault: "secret/agents/poster#GH", expires: "2026-01-13T00:00:00Z"}\n', "")
    code, doc = survivors(tmp_path, "poster", only_slack, export, "--max-short-lived", "3700d")
    assert verdicts(doc) == {fingerprint(tok): (True, "expiring")} and code == 0
    assert cred(doc, tok)["conflicts"] == []
    res = CliRunner().invoke(main, ["survivors", "poster", "--inventory", str(tmp_path / "agents.yaml"),
                                    "--max-short-lived", "soon", export])
    assert res.exit_code == 2 and "--max-short-lived: not a duration" in res.output


PINNED_LITERAL = """\
on: workflow_call
jobs:
  n:
    runs-on: ubuntu-latest
    steps:
      - run: ./notify
        env:
          SLACK_TOKEN: %s
"""


BOT_INVENTORY = """\
kind: AgentInventory
agents:
  - name: bot
    workflows: [{github: acme/bot/.github/workflows/run.yml}]
"""


def pinned_notify(make_repo, *values: str):
    """`acme/shared-ci`'s `notify.yml` holding each of `values` in turn (tagged v1 at the first),
    then reading the token from the secret store; `acme/bot`'s workflow calls it `@v1`."""
    shared = make_repo("shared-ci")
    for i, value in enumerate(values):
        shared.write(".github/workflows/notify.yml", PINNED_LITERAL % value)
        shared.commit(f"notify: token {i + 1}")
        if i == 0:
            shared.git("tag", "v1")
    shared.write(".github/workflows/notify.yml", PINNED_LITERAL % "${{ secrets.SLACK_TOKEN }}")
    shared.commit("notify v2: token from the secret store")
    r = make_repo("bot")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
            "    uses: acme/shared-ci/.github/workflows/notify.yml@v1\n")
    r.commit("run")
    return shared, r


def test_key_written_into_a_workflow_read_at_a_pinned_ref_is_reached(make_repo, tmp_path, rng):
    """The agent's workflow calls `notify.yml@v1`, which has a Slack token written into it at v1
    (HEAD no longer does): the token is reached through the pinned file (orphaned, exit 1);
    before, only HEAD's copies counted and the gate said clear (exit 0). Without history the scan
    knows no credential for the value the pinned text shows: unresolved, exit 1."""
    tok = slack_bot(rng)
    shared, r = pinned_notify(make_repo, tok)
    inv = BOT_INVENTORY
    code, doc = survivors(tmp_path, "bot", inv, shared.path, r.path)
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")} and code == 1
    [path] = cred(doc, tok)["reached_via"]
    assert path[-2] == "workflow:github:acme/shared-ci:.github/workflows/notify.yml@v1"
    assert "value written in .github/workflows/notify.yml@v1:8" in cred(doc, tok)["resolved_by"]
    db = tmp_path / "s.db"  # the same from the datastore's records
    assert CliRunner().invoke(main, ["scan", "--db", str(db), str(shared.path), str(r.path)]).exit_code == 1
    code, doc = survivors(tmp_path, "bot", inv, "--db", db)
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")} and code == 1
    code, doc = survivors(tmp_path, "bot", inv, shared.path, r.path, "--no-history")
    assert doc["credentials"] == [] and code == 1
    [u] = doc["unresolved"]
    assert u["name"] == "workflow:github:acme/shared-ci:.github/workflows/notify.yml@v1"
    assert "line 8" in u["why"] and "no credential" in u["why"]


def test_inventory_provider_that_contradicts_the_value_never_kills(tmp_path, rng):
    """A GitHub token the inventory declares as an OpenAI key issued to the agent's exclusive
    identity: OpenAI's rule (deleting a service account deletes its keys) says nothing about a
    GitHub token, so it survives and the mismatch is reported (exit 1); before, it died on
    OpenAI's word (exit 0). Declared as GitHub, it dies (a machine user's tokens are revoked)."""
    tok = github(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: bot
        identities: [{ref: "svc/bot", exclusive: true}]
        credentials: [{id: k, provider: %s, vault: "secret/agents/bot#K", issuedTo: identity}]
    """
    export = vault(tmp_path, {"agents/bot": {"K": tok}})
    code, doc = survivors(tmp_path, "bot", inv % "openai", export)
    assert verdicts(doc) == {fingerprint(tok): (True, "orphaned")} and code == 1
    [c] = cred(doc, tok)["conflicts"]
    assert "declares provider openai, but the value is a github credential (github.pat)" in c
    code, doc = survivors(tmp_path, "bot", inv % "github", export)
    assert verdicts(doc) == {fingerprint(tok): (False, None)} and code == 0


def test_short_lived_token_whose_minting_key_was_not_found_survives(tmp_path, rng):
    """A short-lived token expiring within grace is minted by the agent's `app-key`, whose value
    the scan did not find: whether that parent survives is unknown, so the token survives
    `expiring` (not "dies"); the unresolved key blocks (exit 1). With the key found and dying
    with nothing else, the token dies."""
    tok, key = github(rng, prefix="ghs"), github(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: bot
        credentials:
          - {id: t, vault: "secret/agents/bot#T", lifetime: short-lived, expires: "2026-01-10T00:30:00Z", mintedBy: app-key}
          - {id: app-key, vault: "secret/agents/bot#%s", lifetime: short-lived, expires: "2026-01-10T00:20:00Z"}
    """
    export = vault(tmp_path, {"agents/bot": {"T": tok, "KEY": key}})
    code, doc = survivors(tmp_path, "bot", inv % "ELSEWHERE", export)
    assert verdicts(doc) == {fingerprint(tok): (True, "expiring")} and code == 1
    assert [u["name"] for u in doc["unresolved"]] == ["app-key"]
    code, doc = survivors(tmp_path, "bot", inv % "KEY", export)
    assert verdicts(doc) == {fingerprint(tok): (False, None), fingerprint(key): (False, None)} and code == 0


def test_far_expiry_and_out_of_range_durations_are_answers_not_crashes(tmp_path, rng):
    """`expires: 9999-12-31` (how some inventories write "never") is read as the last instant,
    not an internal error: a static key survives `orphaned`; a short-lived one is contradicted
    (exit 1). A `--grace` of NaN, infinity or beyond 1e13 s is one line, exit 2."""
    key, tok = openai_project(rng), slack_bot(rng)
    inv = """\
    kind: AgentInventory
    agents:
      - name: bot
        credentials:
          - {id: k, vault: "secret/agents/bot#K", expires: 9999-12-31}
          - {id: t, vault: "secret/agents/bot#T", lifetime: short-lived, expires: 9999-12-31}
    """
    export = vault(tmp_path, {"agents/bot": {"K": key, "T": tok}})
    code, doc = survivors(tmp_path, "bot", inv, export)
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned"), fingerprint(tok): (True, "orphaned")}
    assert cred(doc, key)["expires"] == "9999-12-31T23:59:59.999999+00:00" and code == 1
    assert "longer than the assumed" in cred(doc, tok)["conflicts"][0]
    for grace in ("nan", "inf", "1e14", "1e400"):
        res = CliRunner().invoke(main, ["survivors", "bot", "--inventory", str(tmp_path / "agents.yaml"),
                                        "--grace", grace, export])
        assert res.exit_code == 2 and res.output.strip() == (
            f"sprawlscan: --grace: must be a duration from 0 to 1e13 seconds: {grace!r}"), grace


def test_a_report_on_an_incomplete_scan_never_reads_clear(make_repo, tmp_path):
    """The scan of the agent's repository is incomplete (a broken ref): exit 3 as before, and the
    report itself says blocked with the reason (JSON `blocked: true` and `incomplete`, the table's
    last line); before, the JSON said `blocked: false` and the table "clear"."""
    r = make_repo("bot")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: ./go\n")
    r.commit("wf")
    r.git("branch", "side")
    (r.path / ".git" / "refs" / "heads" / "side").write_text("1" * 40 + "\n")
    inv = BOT_INVENTORY
    code, doc = survivors(tmp_path, "bot", inv, r.path)
    assert code == 3 and doc["credentials"] == [] and doc["blocked"] is True
    [why] = doc["incomplete"]
    assert "bad object refs/heads/side" in why
    res = CliRunner().invoke(main, ["survivors", "bot", "--inventory", str(tmp_path / "agents.yaml"), str(r.path)])
    assert res.exit_code == 3
    assert res.stdout.strip().splitlines()[-1] == "BLOCKED: the scan is incomplete: what survives is not known"


def test_key_written_into_an_action_of_a_scanned_repository_is_reached(make_repo, tmp_path, rng):
    """A step `uses: acme/act@v1` (an action of a scanned repository, read at v1, where its
    `action.yml` has a key written into it; `action.yaml` in another) reaches that key (orphaned,
    exit 1); before, steps' `owner/repo@ref` were never read and the gate said clear (exit 0).
    Actions of repositories not scanned (`actions/checkout@v4`) are not read and block nothing."""
    key, other = openai_project(rng), openai_project(rng)
    step = "name: a\nruns:\n  using: composite\n  steps:\n    - run: ./go\n      shell: bash\n"
    act = make_repo("act")
    act.write("action.yml", step + f"      env:\n        OPENAI_API_KEY: {key}\n")
    act.commit("v1")
    act.git("tag", "v1")
    act.write("action.yml", step)
    act.commit("v2: no key")
    act2 = make_repo("act2")
    act2.write("sub/action.yaml", step + f"      env:\n        OPENAI_API_KEY: {other}\n")
    act2.commit("v1")
    r = make_repo("bot")
    r.write(".github/workflows/run.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
            "      - uses: actions/checkout@v4\n      - uses: acme/act@v1\n      - uses: acme/act2/sub@main\n")
    r.commit("wf")
    inv = BOT_INVENTORY
    code, doc = survivors(tmp_path, "bot", inv, act.path, act2.path, r.path)
    assert verdicts(doc) == {fingerprint(key): (True, "orphaned"), fingerprint(other): (True, "orphaned")}
    assert doc["unresolved"] == [] and code == 1
    assert "workflow:github:acme/act:action.yml@v1" in cred(doc, key)["reached_via"][0]


def test_two_past_values_behind_one_pinned_preview_both_count(make_repo, tmp_path, rng):
    """Two Slack tokens were written into `notify.yml` over its history and both show the same
    preview as the one pinned at v1: which one v1 holds is ambiguous, so both are reached and the
    gate blocks on each (neither may read as unused)."""
    first = slack_bot(rng)
    second = first[:6] + slack_bot(rng)[6:]  # the same redacted preview, another value
    assert second != first and len(second) == len(first)
    shared, r = pinned_notify(make_repo, first, second)
    inv = BOT_INVENTORY
    code, doc = survivors(tmp_path, "bot", inv, shared.path, r.path)
    assert code == 1 and doc["blocked"] is True
    assert verdicts(doc) == {fingerprint(first): (True, "orphaned"), fingerprint(second): (True, "orphaned")}
    assert any("ambiguous: 2 values" in u["why"] and "line 8" in u["why"] for u in doc["unresolved"])
