"""The graph reads records, never the places scanned: `scanner.graph` imports no source and no git
runner; a scan's records carry everything a local repository's workflows need (HEAD files, files
at pinned refs), so the graph built after the repository is gone gives the same verdicts."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import scanner.graph
from scanner.graph.build import build_graph
from scanner.graph.inventory import load_inventory
from scanner.graph.survival import survivors
from scanner.pipeline import ScanOptions, run_scan

GRAPH_MODULES = sorted(f"scanner.graph.{m.name}" for m in pkgutil.iter_modules(scanner.graph.__path__))


def test_graph_imports_no_source_and_no_git() -> None:
    """Importing every `scanner.graph` module (in a fresh interpreter) loads nothing of
    `scanner.sources`, `scanner.gitcmd` or `subprocess`-driving git modules."""
    code = ("import sys\n" + "".join(f"import {m}\n" for m in GRAPH_MODULES) +
            "print('\\n'.join(m for m in sys.modules if m.startswith(('scanner.sources', 'scanner.gitcmd'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "scanner.graph.survival" in GRAPH_MODULES and "scanner.graph.collect" in GRAPH_MODULES
    assert out.stdout.strip() == ""


def test_graph_sources_name_no_process_or_walk() -> None:
    """No module of `scanner/graph/` spawns a process or walks a directory tree."""
    for path in Path(scanner.graph.__file__).parent.glob("*.py"):
        text = path.read_text()
        for word in ("subprocess", "gitcmd", "os.walk", "scanner.sources"):
            assert word not in text, f"{path.name} uses {word}"


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


def test_scan_records_carry_pinned_workflows_after_the_repos_are_gone(make_repo, tmp_path, rng) -> None:
    """A scan's records hold the HEAD workflows and the file at the pinned tag; with both
    repositories deleted, the graph built from the result still reaches the token through
    `notify.yml@v1` (orphaned) and reports the call pinned to a missing ref as unresolved."""
    from tokens import slack_bot

    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("notify v1")
    shared.git("tag", "v1")
    shared.write(".github/workflows/notify.yml", NOTIFY.replace("${{ secrets.SLACK_TOKEN }}", "none"))
    shared.commit("notify v2: no token")
    bot = make_repo("bot")
    bot.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
              "    uses: acme/shared-ci/.github/workflows/notify.yml@v1\n"
              "    secrets:\n      SLACK_TOKEN: ${{ secrets.BOT_SLACK }}\n"
              "  later:\n    uses: acme/shared-ci/.github/workflows/notify.yml@v9\n"
              "    secrets:\n      SLACK_TOKEN: ${{ secrets.BOT_SLACK }}\n")
    bot.commit("run")
    tok = slack_bot(rng)
    export = tmp_path / "vault.json"
    export.write_text('{"secret/data/ci/bot": {"data": {"data": {"BOT_SLACK": "%s"}, "metadata": {"version": 1}}}}'
                      % tok)
    result = run_scan([str(shared.path), str(bot.path), f"vault-export:{export}"], ScanOptions())
    pins = {(f.scope, f.ref, f.name): f.level for f in result.facts if f.kind == "pinned"}
    assert pins == {("acme/shared-ci", "v1", ".github/workflows/notify.yml"): "",
                    ("acme/shared-ci", "v9", ".github/workflows/notify.yml"): "missing"}
    shutil.rmtree(shared.path)
    shutil.rmtree(bot.path)
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: bot\n"
                   "    workflows: [{github: acme/bot/.github/workflows/run.yml}]\n")
    rep = survivors(build_graph(result, load_inventory(inv)), "bot")
    assert [(v.survives, v.reason) for v in rep.verdicts] == [(True, "orphaned")]
    assert any("notify.yml@v1" in n for n in rep.verdicts[0].reached_via[0])
    assert [u.name for u in rep.unresolved] == ["workflow:github:acme/shared-ci:.github/workflows/notify.yml@v9"]


def test_record_text_is_redacted_lines_kept(make_repo, rng) -> None:
    """A token hard-coded in a workflow and a dotenv file is found by the scan; the workflow's
    record holds its redacted preview in its place, on the same line, the dotenv's only its name."""
    from tokens import github

    tok = github(rng)
    r = make_repo("app")
    r.write(".github/workflows/ci.yml", f"on: push\njobs:\n  a:\n    env:\n      GH: {tok}\n"
            "    steps: [{run: 'echo ${{ secrets.OTHER }}'}]\n")
    r.write(".env", f"A=1\nGITHUB_TOKEN={tok}\n")
    r.commit("ci")
    result = run_scan([str(r.path)], ScanOptions())
    [cred] = result.credentials
    texts = {f.name: f.content for f in result.facts if f.kind == "file"}
    assert set(texts) == {".github/workflows/ci.yml", ".env"}
    for text in texts.values():
        assert tok not in text and tok[:-4] not in text
    assert texts[".env"].splitlines()[1] == "GITHUB_TOKEN=<value>"  # a dotenv keeps no value at all
    assert texts[".github/workflows/ci.yml"].splitlines()[4] == f"      GH: {cred.redacted}"


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from scanner.cli import main

    res = CliRunner(env=env).invoke(main, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, res.stdout, res.stderr


def _pinned_repos(make_repo):
    """`shared-ci` whose `notify.yml` passes SLACK_TOKEN at tag v1 (not at HEAD), and `bot`
    calling it `@v1` with its own BOT_SLACK secret."""
    shared = make_repo("shared-ci")
    shared.write(".github/workflows/notify.yml", NOTIFY)
    shared.commit("notify v1")
    shared.git("tag", "v1")
    shared.write(".github/workflows/notify.yml", NOTIFY.replace("${{ secrets.SLACK_TOKEN }}", "none"))
    shared.commit("notify v2: no token")
    bot = make_repo("bot")
    bot.write(".github/workflows/run.yml", "on: push\njobs:\n  notify:\n"
              "    uses: acme/shared-ci/.github/workflows/notify.yml@v1\n"
              "    secrets:\n      SLACK_TOKEN: ${{ secrets.BOT_SLACK }}\n")
    bot.commit("run")
    return shared, bot


def _pinned_org(make_repo, tmp_path, rng):
    from tokens import slack_bot

    shared, bot = _pinned_repos(make_repo)
    tok = slack_bot(rng)
    export = tmp_path / "vault.json"
    export.write_text('{"secret/data/ci/bot": {"data": {"data": {"BOT_SLACK": "%s"}, "metadata": {"version": 1}}}}'
                      % tok)
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: bot\n"
                   "    workflows: [{github: acme/bot/.github/workflows/run.yml}]\n")
    return [str(shared.path), str(bot.path), f"vault-export:{export}"], inv, tok


def test_survivors_from_the_datastore_equal_the_scan_after_the_repos_are_gone(make_repo, tmp_path, rng) -> None:
    """`survivors --db` with no sources builds the graph from the stored records: with the
    scanned repositories deleted it prints exactly what the scanning run printed (the token
    reached through the workflow at the pinned tag, orphaned, exit 1)."""
    sources, inv, tok = _pinned_org(make_repo, tmp_path, rng)
    common = ["survivors", "bot", "--inventory", str(inv), "--at", "2026-01-10", "--format", "json"]
    db = str(tmp_path / "s.db")
    direct = _cli([*common, "--db", db, *sources])
    for s in sources[:2]:
        shutil.rmtree(s)
    stored = _cli([*common, "--db", db])
    assert stored == direct and direct[0] == 1
    assert '"reason": "orphaned"' in direct[1] and "notify.yml@v1" in direct[1]


def test_a_datastore_without_records_blocks_the_gate(make_repo, tmp_path, rng) -> None:
    """Scans recorded before records existed (`scans.records` = 0, as the migration leaves them)
    are not evaluated without workflows: the graph commands stop with one line and exit 3."""
    import sqlite3

    sources, inv, _ = _pinned_org(make_repo, tmp_path, rng)
    db = str(tmp_path / "s.db")
    assert _cli(["scan", "--db", db, "--format", "json", *sources])[0] == 1
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE scans SET records = 0")
    for cmd in (["survivors", "bot"], ["audit"], ["graph", "--format", "json", "-o", str(tmp_path / "g.json")]):
        code, out, err = _cli([*cmd, "--inventory", str(inv), "--db", db])
        assert code == 3 and "hold no workflow or config records" in err and out == "", (cmd, code, err)


def test_stored_record_text_is_redacted_in_the_sqlite_file(make_repo, tmp_path, rng) -> None:
    """A token written into a workflow and a compose file reaches the datastore only as its
    redacted preview: the SQLite file (and its journal) never holds the value, the preview is
    there (the text itself is stored)."""
    from tokens import github

    tok = github(rng)
    r = make_repo("app")
    r.write(".github/workflows/ci.yml", f"on: push\njobs:\n  a:\n    env: {{GH: {tok}}}\n    steps: [{{run: x}}]\n")
    r.write("docker-compose.yml", f"services:\n  app:\n    environment:\n      TOKEN: {tok}\n")
    r.commit("ci")
    db = tmp_path / "s.db"
    assert _cli(["scan", "--db", str(db), "--format", "json", str(r.path)])[0] == 1
    data = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    preview = next(iter(_stored_previews(db)))
    assert tok.encode() not in data and tok[:-4].encode() not in data
    assert data.count(f"TOKEN: {preview}".encode()) == 1 and f"GH: {preview}".encode() in data


def _stored_previews(db: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT redacted FROM credentials")}


def test_stored_record_text_is_redacted_in_postgres(pg_url, pg_server, make_repo, rng) -> None:
    """On PostgreSQL too: `pg_dump` of the database holds the workflow's text with the preview
    in place of the token, never the token."""
    from tokens import github

    tok = github(rng)
    r = make_repo("app")
    r.write(".github/workflows/ci.yml", f"on: push\njobs:\n  a:\n    env: {{GH: {tok}}}\n    steps: [{{run: x}}]\n")
    r.commit("ci")
    assert _cli(["scan", "--db", pg_url, "--format", "json", str(r.path)])[0] == 1
    dump = pg_server.dump(pg_url.rsplit("/", 1)[1])
    from scanner.model import redact

    assert tok.encode() not in dump and tok[:-4].encode() not in dump
    assert f"GH: {redact(tok)}".encode() in dump


def test_survivors_from_the_datastore_over_a_github_org(org, tmp_path) -> None:  # noqa: F811
    """A GitHub org scanned through its API into `--db`: `survivors --db` without sources asks
    the API nothing (its clone cache deleted too) and gives the same verdicts as the scanning run:
    the workflow read through the API reaches the repo secret mapped to the vault copy."""
    from test_github_org import TOKEN

    from scanner.model import fingerprint

    api, s, cache = org
    export = tmp_path / "export.json"
    export.write_text('{"secret/data/agents/agent": {"data": {"data": {"OPENAI_API_KEY": "%s"}, '
                      '"metadata": {"version": 3}}}}' % s["hist"])
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: agent\n    credentials:\n"
                   "      - {id: key, vault: 'secret/agents/agent#OPENAI_API_KEY', ci: [{github: 'acme/agent:OPENAI_API_KEY'}]}\n"
                   "    workflows: [{github: acme/agent/.github/workflows/ci.yml}]\n")
    common = ["survivors", "agent", "--inventory", str(inv), "--at", "2026-01-10", "--format", "json",
              "--db", str(tmp_path / "s.db")]
    env = {"GITHUB_TOKEN": TOKEN}
    direct = _cli([*common, "--github-url", api.base, "--cache-dir", str(cache), "github:acme",
                   f"vault-export:{export}"], env)
    asked = len(api.log)
    shutil.rmtree(cache)
    stored = _cli(common, env)
    assert len(api.log) == asked and stored == direct
    assert (f'"credential:{fingerprint(s["hist"])}"' in direct[1]
            and "inventory mapping github:acme/agent:OPENAI_API_KEY" in direct[1])


from test_github_org import org  # noqa: E402,F401 - the fixture: a GitHub org on a local server


def test_survivors_from_the_datastore_over_a_gitlab_group(group, tmp_path) -> None:  # noqa: F811
    """A GitLab group scanned through its API into `--db`: `survivors --db` without sources asks
    nothing and equals the scanning run; the `.gitlab-ci.yml` read through the API binds
    `$DEPLOY_TOKEN` to the project variable's value."""
    from test_gitlab_group import TOKEN

    from scanner.model import fingerprint

    api, s, cache = group
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: deployer\n"
                   "    workflows: [{gitlab: 'acme/agent:.gitlab-ci.yml'}]\n")
    common = ["survivors", "deployer", "--inventory", str(inv), "--at", "2026-01-10", "--format", "json",
              "--db", str(tmp_path / "s.db")]
    env = {"GITLAB_TOKEN": TOKEN}
    direct = _cli([*common, "--gitlab-url", api.base, "--cache-dir", str(cache), "gitlab:acme"], env)
    asked = len(api.log)
    shutil.rmtree(cache)
    stored = _cli(common, env)
    assert len(api.log) == asked and stored == direct
    assert f'"secret_sha256": "{fingerprint(s["declared"])}"' in direct[1]


from test_gitlab_group import group  # noqa: E402,F401 - the fixture: a GitLab group on a local server


def test_code_records_keep_only_the_lines_that_read_the_environment(make_repo) -> None:
    """A code file's record keeps the lines naming an environment variable (and the two after
    each, for a split expression), not the rest of the file; the graph still reads the names."""
    from scanner.graph.collect import collect
    from scanner.sources.records import repo_records

    r = make_repo("svc")
    body = "".join(f"x{i} = {i}\n" for i in range(40))
    r.write("app.py", f"import os\nDB_PASSWORD = 'hunter2-not-a-rule-match'\n{body}"
                      "KEY = os.environ[\n    'OPENAI_API_KEY']\n" + body + "TOK = os.getenv('GH_TOKEN')\n")
    r.write("web/index.ts", "export const a = process.env.SLACK_TOKEN;\n" + body)
    r.commit("code")
    records = {f.name: f.content for f in repo_records(r.path) if f.kind == "file"}
    assert records["app.py"].splitlines() == ["KEY = os.environ[", "    'OPENAI_API_KEY']", "x0 = 0",
                                              "TOK = os.getenv('GH_TOKEN')"]
    assert "hunter2" not in records["app.py"] and records["web/index.ts"].count("\n") == 2
    col = collect(repo_records(r.path))
    names = {ref.name for wf in col.files.values() for ref in wf.refs}
    assert names == {"OPENAI_API_KEY", "GH_TOKEN", "SLACK_TOKEN"}


def test_github_org_workflow_pinned_to_a_tag_is_read_from_the_clone(httpserver, make_repo, bare_clone,
                                                                     tmp_path, rng) -> None:
    """A forge repository's workflow calling another org repository's reusable workflow at a tag:
    the file at that tag is read from the clone during the scan and stored, so `survivors --db`
    (no API, no clone) reaches the mapped token through `notify.yml@v1` like the scanning run."""
    from fake_api import FakeAPI
    from test_github_org import TOKEN, repo_json, serve_repo
    from tokens import slack_bot

    api = FakeAPI(httpserver)
    shared, bot = _pinned_repos(make_repo)
    api.json("/users/acme", {"login": "acme", "id": 1, "type": "Organization", "url": api.url("/users/acme")})
    api.json("/orgs/acme", {"login": "acme", "id": 1, "url": api.url("/orgs/acme")})
    api.pages("/orgs/acme/repos", [[repo_json(api, "shared-ci", bare_clone(shared)),
                                    repo_json(api, "bot", bare_clone(bot))]], query="type=all&per_page=100")
    serve_repo(api, "shared-ci")
    serve_repo(api, "bot", secrets=["BOT_SLACK"])
    api.json("/orgs/acme/actions/secrets", {"total_count": 0, "secrets": []})
    api.json("/orgs/acme/members", [])
    tok = slack_bot(rng)
    export = tmp_path / "vault.json"
    export.write_text('{"secret/data/ci/bot": {"data": {"data": {"BOT_SLACK": "%s"}, "metadata": {"version": 1}}}}'
                      % tok)
    inv = tmp_path / "agents.yaml"
    inv.write_text("kind: AgentInventory\nagents:\n  - name: bot\n    credentials:\n"
                   "      - {id: k, vault: 'secret/ci/bot#BOT_SLACK', ci: [{github: 'acme/bot:BOT_SLACK'}]}\n"
                   "    workflows: [{github: acme/bot/.github/workflows/run.yml}]\n")
    cache = tmp_path / "cache"
    common = ["survivors", "bot", "--inventory", str(inv), "--at", "2026-01-10", "--format", "json",
              "--db", str(tmp_path / "s.db")]
    env = {"GITHUB_TOKEN": TOKEN}
    direct = _cli([*common, "--github-url", api.base, "--cache-dir", str(cache), "github:acme",
                   f"vault-export:{export}"], env)
    shutil.rmtree(cache)
    stored = _cli(common, env)
    assert stored == direct and direct[0] == 1
    assert "notify.yml@v1" in direct[1] and '"unresolved": []' in direct[1]


def test_dotenv_records_keep_names_not_values(make_repo, tmp_path, rng) -> None:
    """A `.env` record keeps each line's name and whether it is a literal or a reference, at its
    line, and no value at all: a password no rule recognises is not in the datastore file, while
    the credential a rule finds there is still named by its line (`OPENAI_API_KEY`) in the graph."""
    from tokens import openai_project

    from scanner.sources.records import dotenv_shape

    key = openai_project(rng)
    password = "Zq" + "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(18))
    text = (f"# agent settings\nexport SMTP_LOGIN={password}\n\nOPENAI_API_KEY={key}\n"
            "API_URL=${BASE_URL}/v1\nEMPTY=\n")
    assert dotenv_shape(text).splitlines() == [
        "", "SMTP_LOGIN=<value>", "", "OPENAI_API_KEY=<value>", "API_URL=${BASE_URL}", "EMPTY="]
    r = make_repo("agent")
    r.write(".env", text)
    r.commit("env")
    db = tmp_path / "s.db"
    assert _cli(["scan", "--db", str(db), "--format", "json", str(r.path)])[0] == 1
    data = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))
    assert password.encode() not in data and key.encode() not in data
    assert b"SMTP_LOGIN=<value>" in data
    result = run_scan([str(r.path)], ScanOptions())
    [cred] = [c for c in result.credentials if c.rule_id == "openai.project"]
    named = build_graph(result, None).resolver.named
    assert {n for (_, n), fps in named.items() if cred.fingerprint in fps} == {"OPENAI_API_KEY"}


def _code_lines_reference(text: str) -> str:
    """`code_lines` as it was before it tested for "env" first (kept as the reference)."""
    from scanner.sources.records import CODE_TOKENS

    if not any(t in text for t in CODE_TOKENS):
        return ""
    lines = text.splitlines()
    keep: set[int] = set()
    for i, line in enumerate(lines):
        if any(t in line for t in CODE_TOKENS):
            keep.update((i, i + 1, i + 2))
    return "\n".join(lines[i] for i in sorted(keep) if i < len(lines))


_CODE_PIECES = ["os.environ['A']", "getenv(", "process.env.B", "env", "environ", "envir", "get",
                "process.", "x = 1", "\n", "\r\n", "\r", "\x0c", "\u2028", " ", "é"]


@given(st.lists(st.sampled_from(_CODE_PIECES), max_size=40))
@settings(max_examples=400, deadline=None)
def test_code_lines_equals_the_reference(pieces: list[str]) -> None:
    from scanner.sources.records import code_lines

    text = "".join(pieces)
    assert code_lines(text) == _code_lines_reference(text)


def test_head_files_are_read_by_id_whatever_their_names(make_repo) -> None:
    """A file at HEAD named with a newline (or not in UTF-8) neither stops the other files being
    read (when files were asked for by `HEAD:path`, one such name made every file unreadable:
    the graph then saw no workflow at all) nor reads as another file; a file over the size
    limit is not read at all."""
    from scanner.sources.records import repo_records

    r = make_repo("names")
    r.write(".github/workflows/ci.yml", "on: push\njobs: {}\n")
    r.write("app.py", "import os\nK = os.environ['OPENAI_API_KEY']\n")
    r.write("big.py", "import os\nB = os.environ['BIG']\n" + "#" * 5000 + "\n")
    r.commit("files")
    blob = r.git("hash-object", "-w", "--stdin", input_text="x: 1\n").strip()
    r.git("update-index", "--add", "--cacheinfo", f"100644,{blob},evil\nname.yml")
    r.git("commit", "-q", "-m", "odd name")
    files = {f.name: f.content for f in repo_records(r.path, limit=1000) if f.kind == "file"}
    assert files[".github/workflows/ci.yml"] == "on: push\njobs: {}\n"
    assert "OPENAI_API_KEY" in files["app.py"]
    assert files["evil\nname.yml"] == "x: 1\n"
    assert "big.py" not in files
