"""The structured-config pass: Kubernetes Secrets, .env, compose and MCP env blocks give credentials
(decoded, declared) attributed to their original line, through the ordinary scan."""

from __future__ import annotations

import base64
import json
import string

from tokens import github, openai_project, slack_bot

from scanner.model import fingerprint
from scanner.pipeline import run_scan


def _random(rng, n=28):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _by_fp(result):
    return {c.fingerprint: c for c in result.credentials}


def test_k8s_secret_data_is_decoded_and_declared(tmp_path, rng):
    """base64 `data` values are decoded and scanned; secret-named keys count without a rule;
    every match sits on the line of its key in the manifest."""
    key, pw, plain = openai_project(rng), _random(rng), _random(rng)
    b64 = base64.b64encode(key.encode()).decode()
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  LOG_LEVEL: info\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: agent\ntype: Opaque\ndata:\n"
        f"  OPENAI_API_KEY: {b64}\n"
        f"  DB_PASSWORD: {base64.b64encode(pw.encode()).decode()}\n"
        f"  LOG_LEVEL: {base64.b64encode(b'debug-verbose').decode()}\n"
        "stringData:\n"
        f"  REDIS_PASSWORD: \"{plain}\"\n")
    (tmp_path / "secret.yaml").write_text(manifest)
    fps = _by_fp(run_scan([str(tmp_path)]))
    assert set(fps) == {fingerprint(key), fingerprint(pw), fingerprint(plain)}
    openai, db, redis = fps[fingerprint(key)], fps[fingerprint(pw)], fps[fingerprint(plain)]
    assert openai.rule_id == "openai.project"
    assert [(loc.path, loc.line) for loc in openai.locations] == [("secret.yaml", 14)]
    assert (db.rule_id, db.provider) == ("declared.secret", "database")
    assert [loc.line for loc in db.locations] == [15]
    assert [loc.line for loc in redis.locations] == [18]


def test_env_compose_and_mcp_declared_values(tmp_path, rng):
    """A secret-named key with a literal value counts in .env, compose `environment` (map and
    list) and MCP `env` blocks (Claude/Cursor `mcpServers`, VS Code `servers`); references do not."""
    a, b, c, d, e = (_random(rng) for _ in range(5))
    (tmp_path / ".env").write_text(f"# comment\nexport SERVICE_TOKEN='{a}'\nLOG_LEVEL=verbose-mode\n"
                                   "OTHER_KEY=${SERVICE_TOKEN}\n")
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: x\n    environment:\n"
        f"      - APP_SECRET={b}\n      - PORT=8080\n"
        f"  worker:\n    environment:\n      QUEUE_PASSWORD: {c}\n      MODEL: gpt-4o-mini-2024\n")
    cursor = tmp_path / ".cursor"
    cursor.mkdir()
    (cursor / "mcp.json").write_text(json.dumps({"mcpServers": {"search": {
        "command": "npx", "env": {"BRAVE_API_KEY": d, "DEBUG": "true-ish-value"}}}}, indent=2))
    vscode = tmp_path / ".vscode"
    vscode.mkdir()
    (vscode / "mcp.json").write_text(json.dumps({"servers": {"db": {
        "type": "stdio", "env": {"PG_PASSWORD": e, "PG_TOKEN": "${input:pg-token}"}}}}, indent=2))
    fps = _by_fp(run_scan([str(tmp_path)]))
    assert set(fps) == {fingerprint(v) for v in (a, b, c, d, e)}
    where = {fp: [(loc.path, loc.line) for loc in cred.locations] for fp, cred in fps.items()}
    assert where[fingerprint(a)] == [(".env", 2)]
    assert where[fingerprint(b)] == [("docker-compose.yml", 5)]
    assert where[fingerprint(c)] == [("docker-compose.yml", 9)]
    assert where[fingerprint(d)] == [(".cursor/mcp.json", 6)]
    assert where[fingerprint(e)] == [(".vscode/mcp.json", 6)]
    assert {c.rule_id for c in fps.values()} == {"declared.secret"}


def test_rule_wins_over_declared_and_no_duplicates(tmp_path, rng):
    """A value a rule matches is reported once, under the rule's id, even under a secret name."""
    tok, pat = slack_bot(rng), github(rng)
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={tok}\n")
    (tmp_path / "claude_desktop_config.json").write_text(json.dumps(
        {"mcpServers": {"gh": {"env": {"GITHUB_TOKEN": pat}}}}))
    creds = run_scan([str(tmp_path)]).credentials
    assert sorted(c.rule_id for c in creds) == ["github.pat", "slack.bot"]
    assert all(len(c.locations) == 1 for c in creds)


def test_malformed_structured_files_are_still_scanned_raw(tmp_path, rng):
    """Broken YAML / JSON gives no structured matches but the rules still see the raw text."""
    key = openai_project(rng)
    (tmp_path / "secret.yaml").write_text(f"kind: Secret\ndata: [unclosed\n  x: {key}\n")
    (tmp_path / ".mcp.json").write_text('{"mcpServers": {"env": ')
    [cred] = run_scan([str(tmp_path)]).credentials
    assert cred.fingerprint == fingerprint(key)


def test_declared_in_git_history(make_repo, rng):
    """A declared secret in a committed .env is found in history, with its commit."""
    pw = _random(rng)
    r = make_repo("envs")
    r.write("deploy/.env", f"DATABASE_PASSWORD={pw}\n")
    r.commit("env")
    r.write("deploy/.env", "DATABASE_PASSWORD=\n")
    r.commit("blank")
    [cred] = run_scan([str(r.path)]).credentials
    assert cred.rule_id == "declared.secret"
    [loc] = cred.locations
    assert (loc.source, loc.path, loc.state, loc.line) == ("git", "deploy/.env", "historical", 1)


def test_env_templates_declare_nothing(tmp_path, rng):
    """`.env.example` lists names with sample values: no declared credentials come from it."""
    (tmp_path / ".env.example").write_text(f"DB_PASSWORD={_random(rng)}\nOPENAI_API_KEY=\n")
    assert run_scan([str(tmp_path)]).credentials == ()


def test_kubectl_list_output_yaml_and_json(tmp_path, rng):
    """`kubectl get secrets -o yaml` (a List) and `-o json` output: every item's data is decoded,
    on the line where it sits."""
    key, pw = openai_project(rng), _random(rng)
    b64 = base64.b64encode(key.encode()).decode()
    (tmp_path / "all.yaml").write_text(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n"
        f"    name: a\n  data:\n    OPENAI_API_KEY: {b64}\n")
    doc = {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "db"}, "data": {"DB_PASSWORD": base64.b64encode(pw.encode()).decode()}}]}
    (tmp_path / "secrets.json").write_text(json.dumps(doc, indent=2))
    fps = _by_fp(run_scan([str(tmp_path)]))
    assert [(loc.path, loc.line) for loc in fps[fingerprint(key)].locations] == [("all.yaml", 9)]
    assert [(loc.path, loc.line) for loc in fps[fingerprint(pw)].locations] == [("secrets.json", 12)]


def test_references_under_secret_names_are_not_values(tmp_path, rng):
    """`${{ secrets.X }}`, `${X}`, `$X`, `{{ .Values.x }}` name a secret: no credential, while a
    literal under the same kind of name is one."""
    literal = _random(rng)
    (tmp_path / ".env").write_text(
        "GITHUB_TOKEN=${{ secrets.DEPLOY_TOKEN }}\nAPI_TOKEN=${API_TOKEN}\nDB_PASSWORD=$PGPASS\n"
        "SLACK_TOKEN={{ .Values.slack }}\n"
        f"SERVICE_SECRET={literal}\n")
    creds = run_scan([str(tmp_path)]).credentials
    assert [c.fingerprint for c in creds] == [fingerprint(literal)]


def test_mcp_headers_and_args_carry_tokens(tmp_path, rng):
    """An MCP server's `headers` (Authorization: Bearer, X-API-Key) and `args` (`--header
    "Authorization: Bearer X"`, `--api-key X`, `--token=X`, `-e KEY=VALUE`) are declared
    secrets; ports, URLs and package names are not."""
    vals = [_random(rng, 32) for _ in range(6)]
    doc = {"mcpServers": {
        "search": {"command": "npx", "args": ["-y", "mcp-remote", "https://mcp.search.test/sse",
                                              "--header", f"Authorization: Bearer {vals[0]}"],
                   "headers": {"Authorization": f"Bearer {vals[1]}", "X-API-Key": vals[2]}},
        "other": {"command": "srv", "args": ["--api-key", vals[3], f"--token={vals[4]}", "-e",
                                             f"SLACK_TOKEN={vals[5]}", "--port", "8080",
                                             "--model", "gpt-4o-mini-2024-07-18"]}}}
    (tmp_path / ".mcp.json").write_text(json.dumps(doc, indent=2))
    found = _by_fp(run_scan([str(tmp_path)]))
    assert set(found) == {fingerprint(v) for v in vals}
    assert {c.rule_id for c in found.values()} == {"declared.secret"}
    assert found[fingerprint(vals[5])].provider == "slack"


def test_call_argument_forms_bind_the_provider_keyword(tmp_path, rng):
    """A context-bound key passed as a keyword argument (`Mistral(api_key=...)`,
    `wandb.login(key=...)`) is found by its provider's rule."""
    mistral = _random(rng, 32)
    wandb = "".join(rng.choice("0123456789abcdef") for _ in range(40))
    (tmp_path / "agent.py").write_text(
        f'from mistralai import Mistral\nimport wandb\n\nclient = Mistral(api_key="{mistral}")\n'
        f'wandb.login(key="{wandb}")\n')
    found = _by_fp(run_scan([str(tmp_path)]))
    assert found[fingerprint(mistral)].rule_id == "mistral.api-key"
    assert found[fingerprint(wandb)].rule_id == "wandb.legacy-key"
