"""The graph reads records, never the places scanned: `scanner.graph` imports no source and no git
runner; a scan's records carry everything a local repository's workflows need (HEAD files, files
at pinned refs), so the graph built after the repository is gone gives the same verdicts."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

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
    """A token hard-coded in a workflow and a dotenv file is found by the scan, and the records
    hold its redacted preview in its place, on the same line, never the value."""
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
        assert tok not in text and tok[:-4] not in text and cred.redacted in text
    assert texts[".env"].splitlines()[1] == f"GITHUB_TOKEN={cred.redacted}"
    assert texts[".github/workflows/ci.yml"].splitlines()[4] == f"      GH: {cred.redacted}"
