"""References and calls parsed from GitHub Actions, GitLab CI, MCP / agent configs and code; and
GitLab pipelines evaluated end to end (include, child and multi-project triggers, group chain)."""

from __future__ import annotations

import datetime as dt
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.graph import configs
from scanner.graph.build import build_graph
from scanner.pipeline import records_of
from scanner.graph.inventory import Inventory, WorkflowRef, load_inventory
from scanner.graph.survival import survivors
from scanner.graph.workflows import parse_github, parse_gitlab
from scanner.model import Credential, Location, ScanResult, ScanStats, fingerprint, redact
from tokens import github, openai_project

GH = WorkflowRef("github", "acme/x", ".github/workflows/ci.yml")
GL = WorkflowRef("gitlab", "acme/agents/support", ".gitlab-ci.yml")


def test_github_references_calls_and_environments():
    """secrets.X anywhere (incl. bracket form), environments, local/remote reusable calls with
    inherit or a map, composite actions; GITHUB_TOKEN and vars.* are never references."""
    wf = parse_github(textwrap.dedent("""\
        on: [push, workflow_call]
        env:
          TOP: ${{ secrets.TOP_SECRET }}
        jobs:
          deploy:
            environment: {name: production}
            runs-on: x
            steps:
              - uses: ./.github/actions/setup
              - run: echo "${{ secrets['BRACKET'] }} ${{ vars.NOT_SECRET }} ${{ secrets.GITHUB_TOKEN }}"
                env: {K: "${{ secrets.DEPLOY_KEY }}"}
          a:
            uses: ./.github/workflows/reuse.yml
            secrets: inherit
          b:
            uses: other/repo/.github/workflows/r.yml@v2
            secrets:
              TOKEN: ${{ secrets.B_TOKEN }}
              LITERAL: plain
              GH: ${{ secrets.GITHUB_TOKEN }}
        """), GH)
    assert wf.error is None and wf.root
    assert {(r.name, r.environment) for r in wf.refs} == {("TOP_SECRET", ""), ("BRACKET", "production"),
                                                          ("DEPLOY_KEY", "production")}
    calls = {(c.target.repo, c.target.path): c for c in wf.calls}
    assert calls[("acme/x", ".github/workflows/reuse.yml")].inherit
    b = calls[("other/repo", ".github/workflows/r.yml")]
    assert (b.inherit, b.mapping) == (False, (("TOKEN", "B_TOKEN"), ("LITERAL", None), ("GH", None)))
    assert calls[("acme/x", ".github/actions/setup/action.yml")].how == "composite"


def test_github_callable_only_is_not_a_root_and_bad_yaml_is_an_error():
    """A workflow_call-only workflow runs only when called; malformed YAML is recorded, not raised."""
    assert not parse_github("on: workflow_call\njobs: {}\n", GH).root
    assert parse_github("on: [push\n", GH).error.startswith("not valid YAML")
    # a scalar YAML resolves to a date but that is no date (month 13) is malformed, not a crash
    assert parse_github("on: push\nsince: 2026-13-45\njobs: {}\n", GH).error.startswith("not valid YAML")


def test_gitlab_references_includes_triggers_and_never_unresolved_names():
    """$VAR/${VAR}; pipeline variables, $CI_*, id_tokens and secrets: names are defined; include
    local/project/template; child trigger; multi-project trigger forwarding YAML variables;
    secrets: vault paths."""
    wf = parse_gitlab(textwrap.dedent("""\
        include:
          - local: /ci/common.yml
          - project: acme/platform-ci
            file: [templates/agents.yml]
          - template: Security/SAST.gitlab-ci.yml
        variables:
          REGION: eu
          FORWARDED: $UPSTREAM_TOKEN
        deploy:
          environment: production
          id_tokens:
            VAULT_ID_TOKEN: {aud: https://vault}
          secrets:
            DB_PASSWORD:
              vault: production/db/password@ops
          script:
            - deploy --key "${OPENAI_API_KEY}" --region $REGION --sha $CI_COMMIT_SHA $DB_PASSWORD $VAULT_ID_TOKEN
        child:
          trigger:
            include: ci/child.yml
        downstream:
          variables: {LOCAL: "$JOB_SECRET"}
          trigger:
            project: acme/deployer
            forward: {yaml_variables: true}
        """), GL)
    names = {(r.name, r.kind, r.environment) for r in wf.refs}
    assert ("OPENAI_API_KEY", "var", "production") in names and ("UPSTREAM_TOKEN", "var", "") in names
    assert ("JOB_SECRET", "var", "") in names
    assert ("DB_PASSWORD", "vault", "production") in names
    assert [r.target for r in wf.refs if r.kind == "vault"] == ["ops/production/db#password"]
    assert not {n for n, _, _ in names} & {"CI_COMMIT_SHA", "VAULT_ID_TOKEN", "FORWARDED", "LOCAL"}
    # REGION is YAML-defined for the job: kept, marked, so a project variable of that name still wins
    assert [r.yaml for r in wf.refs if r.name == "REGION"] == [True]
    hows = {(c.how, c.target.repo, c.target.path) for c in wf.calls}
    assert hows == {("include", "acme/agents/support", "ci/common.yml"),
                    ("include", "acme/platform-ci", "templates/agents.yml"),
                    ("include", "gitlab-templates", "Security/SAST.gitlab-ci.yml"),
                    ("trigger-child", "acme/agents/support", "ci/child.yml"),
                    ("trigger-project", "acme/deployer", ".gitlab-ci.yml")}
    down = next(c for c in wf.calls if c.how == "trigger-project")
    assert dict(down.mapping) == {"REGION": None, "FORWARDED": "UPSTREAM_TOKEN", "LOCAL": "JOB_SECRET"}
    off = parse_gitlab("x:\n  trigger:\n    project: a/b\n    forward: {yaml_variables: false}\n", GL)
    assert off.calls[0].mapping == ()


def test_mcp_env_inputs_literals_and_code_references():
    """MCP env: ${env:X}, ${input:X} and literal values (located by line, value never kept);
    os.environ / os.getenv / process.env in code; dotenv names only."""
    text = ('{\n "mcpServers": {\n  "jira": {\n   "command": "npx",\n   "env": {\n'
            '    "JIRA_TOKEN": "${env:ATLASSIAN_TOKEN}",\n    "PROMPTED": "${input:jira_pat}",\n'
            '    "LITERAL_KEY": "abcdefghijklmnop"\n   }\n  }\n }\n}\n')
    [srv] = configs.parse_mcp(text, "acme/a", ".cursor/mcp.json")
    assert srv.ref.node == "workflow:mcp:acme/a:.cursor/mcp.json#jira"
    assert {(r.name, r.kind, r.line) for r in srv.refs} == {("ATLASSIAN_TOKEN", "env", None),
                                                            ("jira_pat", "input", None), ("LITERAL_KEY", "literal", 8)}
    assert "abcdefghijklmnop" not in repr(srv)
    code = configs.parse_code("import os\na = os.environ['A']\nb = os.getenv(\"B\")\nc = process.env.C\n"
                              "d = os.environ.get('D')\n", "acme/a", "x.py")
    assert [r.name for r in code.refs] == ["A", "B", "C", "D"]
    assert configs.dotenv_names("A=1\n# B=2\nexport C=3\nEMPTY=\n") == [(1, "A"), (3, "C")]
    lg = configs.parse_langgraph('{"env": ".env"}', "acme/a", "langgraph.json", {".env": "LANGSMITH_API_KEY=x\n"})
    assert [r.name for r in lg.refs] == ["LANGSMITH_API_KEY"]
    n8n = configs.parse_n8n('{"nodes": [{"name": "OpenAI", "credentials": {"openAiApi": {"id": "1", "name": "Prod OpenAI"}},'
                            ' "parameters": {"k": "={{ $env.OPENAI_KEY }}"}}], "connections": {}}', "acme/a", "n8n/flow.json")
    assert [(r.name, r.kind) for r in n8n.refs] == [("openAiApi:Prod OpenAI", "n8n"), ("OPENAI_KEY", "env")]
    crew = configs.parse_named_file("crewai", "researcher:\n  role: r\n  llm: ${LLM_MODEL}\n", "acme/a", "config/agents.yaml")
    assert [(r.name, r.kind) for r in crew.refs] == [("LLM_MODEL", "env")]
    [svc] = configs.parse_compose("services:\n  bot:\n    environment:\n      - OPENAI_API_KEY=${OPENAI_API_KEY}\n"
                                  "      - MODE=fast\n", "acme/a", "docker-compose.yml")
    assert svc.ref.node == "workflow:compose:acme/a:docker-compose.yml#bot"
    assert {(r.name, r.kind) for r in svc.refs} == {("OPENAI_API_KEY", "env"), ("MODE", "literal")}


def test_gitlab_group_chain_include_and_multi_project_forwarding(make_repo, tmp_path, rng):
    """A GitLab agent's pipeline includes a template from another project (evaluated in the
    including project's scope, resolved at the parent group's variable) and triggers a downstream
    project that gets the key only through a forwarded YAML variable."""
    sup = make_repo("support", origin="https://gitlab.com/acme/agents/support.git")
    sup.write(".gitlab-ci.yml", "include:\n  - project: acme/platform-ci\n    file: templates/agents.yml\n"
                                "variables:\n  FWD_KEY: $OPENAI_API_KEY\n"
                                "ship:\n  trigger:\n    project: acme/deployer\n")
    sup.commit("ci")
    plat = make_repo("platform-ci", origin="https://gitlab.com/acme/platform-ci.git")
    plat.write("templates/agents.yml", "run:\n  script: [\"call --key $OPENAI_API_KEY --t $CI_JOB_TOKEN\"]\n")
    plat.commit("tpl")
    dep = make_repo("deployer", origin="https://gitlab.com/acme/deployer.git")
    dep.write(".gitlab-ci.yml", "go:\n  script: [\"deploy $FWD_KEY $DEPLOYER_ONLY\"]\n")
    dep.commit("dep")
    key, other = openai_project(rng), github(rng)
    creds = (Credential(fingerprint(key), "openai.project", "openai", redact(key),
                        (Location("gitlab-variable", "acme/agents", "OPENAI_API_KEY@*"),)),
             Credential(fingerprint(other), "github.pat", "github", redact(other),
                        (Location("gitlab-variable", "acme/deployer", "DEPLOYER_ONLY"),)))
    inv = tmp_path / "agents.yaml"
    inv.write_text("apiVersion: sprawlscan/v1\nkind: AgentInventory\nagents:\n  - name: support\n"
                   "    workflows: [{gitlab: 'acme/agents/support:.gitlab-ci.yml'}]\n")
    sg = build_graph(ScanResult(creds, ScanStats(), records_of([str(tmp_path)])), load_inventory(inv))
    rep = survivors(sg, "support", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    paths = {v.credential.fingerprint: v.reached_via for v in rep.verdicts}
    assert set(paths) == {fingerprint(key), fingerprint(other)}
    root = "workflow:gitlab:acme/agents/support:.gitlab-ci.yml"
    assert (("agent:support", root, "workflow:gitlab:acme/platform-ci:templates/agents.yml",
             "reference:gitlab:acme/platform-ci:templates/agents.yml#OPENAI_API_KEY", f"credential:{fingerprint(key)}")
            in paths[fingerprint(key)])
    assert (("agent:support", root, "workflow:gitlab:acme/deployer:.gitlab-ci.yml",
             "reference:gitlab:acme/deployer:.gitlab-ci.yml#FWD_KEY",
             "reference:gitlab:acme/agents/support:.gitlab-ci.yml#OPENAI_API_KEY",
             f"credential:{fingerprint(key)}") in paths[fingerprint(key)])
    how = {h for v in rep.verdicts for h in v.how}
    assert "gitlab group secret acme/agents:OPENAI_API_KEY" in how
    assert rep.unresolved == ()
    # the deployer's own pipeline (a root nobody declares) still uses its own PAT: shared; in its
    # own scope FWD_KEY is not forwarded, so it does not reach the key: orphaned
    v = {v.credential.fingerprint: v for v in rep.verdicts}
    assert (v[fingerprint(key)].reason, v[fingerprint(key)].other_holders) == ("orphaned", ())
    assert (v[fingerprint(other)].reason, v[fingerprint(other)].other_holders) == \
        ("shared", ("workflow:gitlab:acme/deployer:.gitlab-ci.yml",))
    assert isinstance(sg.inventory, Inventory)


def test_audit_reports_unresolved_references_of_root_pipelines(make_repo, tmp_path):
    """A pipeline that runs on its own and reads a variable nothing defines is an audit finding;
    predefined and pipeline-defined names are not."""
    from scanner.graph.audit import run_audit

    r = make_repo("svc", origin="https://gitlab.com/acme/svc.git")
    r.write(".gitlab-ci.yml", "variables:\n  MODE: fast\njob:\n  script: [\"run $MODE $CI_COMMIT_SHA $MISSING_TOKEN\"]\n")
    r.commit("ci")
    sg = build_graph(ScanResult((), ScanStats(), records_of([str(r.path)])), None)
    found = [(f.check, f.subject, f.message) for f in run_audit(sg, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))]
    assert found == [("unresolved-reference", "workflow:gitlab:acme/svc:.gitlab-ci.yml",
                      "MISSING_TOKEN in gitlab:acme/svc: unresolved")]


def test_remote_include_is_reported_not_ignored(make_repo, tmp_path):
    """An include we cannot read (remote URL, a GitLab template) is an unresolved item for the
    agent that runs it, never silently skipped."""
    r = make_repo("svc", origin="https://gitlab.com/acme/svc.git")
    r.write(".gitlab-ci.yml", "include:\n  - remote: https://example.test/ci.yml\n"
                              "  - template: Security/SAST.gitlab-ci.yml\n")
    r.commit("ci")
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: svc\n    workflows: [{gitlab: 'acme/svc:.gitlab-ci.yml'}]\n")
    sg = build_graph(ScanResult((), ScanStats(), records_of([str(r.path)])), load_inventory(inv))
    rep = survivors(sg, "svc", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert [(u.name, u.how) for u in rep.unresolved] == [
        ("workflow:gitlab:gitlab-templates:Security/SAST.gitlab-ci.yml", "GitLab template include: not followed"),
        ("workflow:gitlab:remote:https://example.test/ci.yml", "remote include: not fetched, not followed")]
    assert rep.blocked


def test_code_env_reference_binds_through_the_running_agents_declaration(make_repo, tmp_path, rng):
    """os.environ["OPENAI_API_KEY"] in code the agent runs binds to the values its inventory entry
    declares: the vault one and the live copy in the agent's `.env` under the declared name (every
    declared source is reached); code that reads nothing is fine."""
    r = make_repo("bot")
    r.write("agent.py", "import os\nkey = os.environ[\"OPENAI_API_KEY\"]\n")
    r.write("util.py", "print('no env here')\n")
    r.commit("code")
    r.write(".env", "OPENAI_API_KEY=dev-value-placeholder\n")
    prod, dev = openai_project(rng), openai_project(rng)
    creds = (Credential(fingerprint(prod), "openai.project", "openai", redact(prod),
                        (Location("vault", "secret", "agents/bot#OPENAI_API_KEY"),)),
             Credential(fingerprint(dev), "openai.project", "openai", redact(dev),
                        (Location("git", "acme/bot", ".env", None, 1, "live"),)))
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: bot\n    credentials:\n"
                   "      - {id: k, env: [OPENAI_API_KEY], vault: 'secret/agents/bot#OPENAI_API_KEY'}\n"
                   "    workflows: [{code: 'acme/bot:agent.py'}, {code: 'acme/bot:util.py'}]\n")
    sg = build_graph(ScanResult(creds, ScanStats(), records_of([str(r.path)])), load_inventory(inv))
    rep = survivors(sg, "bot", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert {v.credential.fingerprint for v in rep.verdicts} == {fingerprint(prod), fingerprint(dev)}
    v = next(v for v in rep.verdicts if v.credential.fingerprint == fingerprint(prod))
    assert ("agent:bot", "workflow:code:acme/bot:agent.py", "reference:code:acme/bot:agent.py#OPENAI_API_KEY",
            f"credential:{fingerprint(prod)}") in v.reached_via
    assert rep.unresolved == ()


_yaml_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                            | st.sampled_from(["inherit", "$X", "${{ secrets.A }}", "./x.yml", "a/b/.github/workflows/c.yml@v1"]),
                            lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.sampled_from(["jobs", "on", "uses", "secrets", "steps", "include",
                                                               "trigger", "variables", "env", "mcpServers",
                                                               "environment", "forward", "project", "vault", "x"]),
                                              inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(doc=_yaml_values)
def test_parsers_never_raise_on_odd_structures(doc):
    """Any YAML/JSON shape gives a WorkflowFile (maybe with an error), never an exception."""
    import json as _json

    import yaml as _yaml

    text = _yaml.safe_dump(doc)
    for wf in (parse_github(text, GH), parse_gitlab(text, GL)):
        assert wf.error is None or isinstance(wf.error, str)
    assert all(isinstance(w.error, (str, type(None))) for w in configs.parse_mcp(_json.dumps(doc), "a", "mcp.json"))


def test_dynamic_secret_reads_and_gitlab_reference_tags():
    """`secrets[matrix.k]` and `toJSON(secrets)` become names nothing binds (reported, never
    silently dropped); GitLab's `!reference` tag parses."""
    wf = parse_github("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
                      "      - run: echo '${{ secrets[matrix.key] }} ${{ toJSON(secrets) }}'\n", GH)
    assert [r.name for r in wf.refs] == ["secrets[matrix.key]", "toJSON(secrets)"]
    gl = parse_gitlab(".s:\n  script: [echo $X]\njob:\n  script:\n    - !reference [.s, script]\n    - echo $Y\n", GL)
    assert gl.error is None and {r.name for r in gl.refs} == {"X", "Y"}


def test_gitlab_vault_secret_binds_to_the_vault_copy(make_repo, tmp_path, rng):
    """A job's `secrets: X: vault: path/field@mount` reaches the value at that vault key, and
    `$X` in the script is not reported as unresolved."""
    r = make_repo("db", origin="https://gitlab.com/acme/db.git")
    r.write(".gitlab-ci.yml", "migrate:\n  id_tokens:\n    VAULT_ID_TOKEN: {aud: https://vault.test}\n"
                              "  secrets:\n    DB_PASSWORD:\n      vault: production/db/password@ops\n"
                              "  script: [\"migrate --password-file $DB_PASSWORD\"]\n")
    r.commit("ci")
    pw = openai_project(rng)
    cred = Credential(fingerprint(pw), "declared.secret", "database", redact(pw),
                      (Location("vault", "ops", "production/db#password"),))
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: migrator\n    workflows: [{gitlab: 'acme/db:.gitlab-ci.yml'}]\n")
    sg = build_graph(ScanResult((cred,), ScanStats(), records_of([str(r.path)])), load_inventory(inv))
    rep = survivors(sg, "migrator", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    [v] = rep.verdicts
    assert v.how == ("vault path ops/production/db#password",) and rep.unresolved == ()
    assert v.reached_via == (("agent:migrator", "workflow:gitlab:acme/db:.gitlab-ci.yml",
                              "reference:gitlab:acme/db:.gitlab-ci.yml#DB_PASSWORD", f"credential:{fingerprint(pw)}"),)


def test_workflow_files_load_the_same_with_libyaml_as_with_pure_python(demo_org):
    """The CI loader reads with libyaml's parser where PyYAML has it: every workflow and CI file
    of the demo organisation, and a GitLab file with `!reference`, give the same documents as
    the pure-Python loader with the same tag."""
    import yaml

    from scanner.graph import workflows

    class Pure(yaml.SafeLoader):
        pass

    Pure.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))  # type: ignore[arg-type]
    texts = [p.read_text() for p in sorted(demo_org.rglob("*.y*ml")) if ".git" not in p.parts]
    texts += [".s:\n  script: [echo $X]\njob:\n  script:\n    - !reference [.s, script]\n"
              "    - echo $Y\n  when: on\n  n: 0o17\n  t: 2024-01-02\n",
              "on:\n  push: {branches: [main]}\n  workflow_call:\n    secrets:\n      KEY: {required: true}\n"
              "jobs:\n  a:\n    runs-on: ubuntu-latest\n    env: &e\n      K: ${{ secrets.KEY }}\n"
              "    steps:\n      - run: |\n          echo \"$K\" # 'x'\n        env: *e\n"
              "      - {uses: acme/x@v1, with: {token: '${{ secrets.GH }}'}}\n  b:\n"
              "    uses: acme/y/.github/workflows/r.yml@v2\n    secrets: inherit\n"]
    assert len(texts) >= 5
    assert yaml.__with_libyaml__ and workflows._CILoader.__mro__[1] is yaml.CSafeLoader
    for text in texts:
        assert workflows._load(text) == (yaml.load(text, Loader=Pure), None)  # noqa: S506
