"""The integration files shipped at the repository root: the pre-commit hook (run for real with
`pre-commit try-repo`, which builds the hook's virtualenv from this repository) and the composite
GitHub Action (its scan script extracted from action.yml and run with bash on a real repository)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tokens import github, openai_project

from scanner.model import fingerprint

ROOT = Path(__file__).resolve().parent.parent


def test_pre_commit_hook_blocks_a_staged_secret(make_repo, rng, tmp_path_factory):
    """`pre-commit try-repo` with a staged token fails the hook (the commit is blocked); a clean
    staged change passes."""
    if shutil.which("pre-commit") is None:
        pytest.skip("pre-commit is not installed (it is in the test extra)")
    if not (ROOT / ".git").exists():
        pytest.skip("the project is not a git checkout: try-repo needs one")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "sprawlscan" and "--staged" in hooks[0]["entry"]
    assert hooks[0]["pass_filenames"] is False
    key = github(rng)
    r = make_repo("hooked")
    r.write("README.md", "hello\n")
    r.commit("init")
    r.write("deploy.env", f"GITHUB_TOKEN={key}\n")
    r.git("add", "deploy.env")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
           "PRE_COMMIT_COLOR": "never", "GIT_CONFIG_GLOBAL": os.devnull,
           # try-repo commits a shadow copy when this checkout has uncommitted changes
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}
    env.pop("SPRAWLSCAN_DB", None)

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["pre-commit", "try-repo", str(ROOT), "sprawlscan"], cwd=r.path,
                              capture_output=True, text=True, env=env, timeout=300, check=False)

    blocked = try_repo()
    out = blocked.stdout + blocked.stderr
    if blocked.returncode != 1 and ("CalledProcessError" in out or "pip" in out.lower()):
        pytest.skip(f"the environment cannot build the hook's virtualenv: {out.strip()[-300:]}")
    assert blocked.returncode == 1, out
    assert "Failed" in out and "github.pat" in out and "deploy.env" in out
    assert key not in out
    r.git("reset", "-q")
    r.write("deploy.env", "LOG_LEVEL=info\n")
    r.git("add", "deploy.env")
    clean = try_repo()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout


def action_steps() -> dict[str, dict]:
    doc = yaml.safe_load((ROOT / "action.yml").read_text())
    assert doc["runs"]["using"] == "composite"
    return {s.get("id") or s.get("name") or s["uses"]: s for s in doc["runs"]["steps"]}


def run_scan_step(repo: Path, base: str, head: str, tmp: Path) -> tuple[int, dict[str, str], Path]:
    """Run the action's scan script with bash as GitHub does for `shell: bash`
    (`bash --noprofile --norc -eo pipefail {0}`), `sprawlscan` on PATH being this checkout."""
    script = action_steps()["scan"]["run"]
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "sprawlscan"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m scanner "$@"\n')
    shim.chmod(0o755)
    outputs, summary, sarif = tmp / "out.txt", tmp / "summary.md", tmp / "report.sarif"
    for f in (outputs, summary):
        f.write_text("")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary),
           "SPRAWLSCAN_BASE": base, "SPRAWLSCAN_HEAD": head, "SPRAWLSCAN_PATH": ".",
           "SPRAWLSCAN_FAIL_ON": "low", "SPRAWLSCAN_BASELINE": "", "SPRAWLSCAN_SARIF": str(sarif)}
    step = tmp / "step.sh"
    step.write_text(script)
    # exactly how GitHub runs a `shell: bash` step: errexit on, so a failing command ends the step
    p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(step)], cwd=repo,
                       env=env, capture_output=True, text=True, timeout=120, check=False)
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return p.returncode, values, sarif


def test_action_scans_the_pr_diff_writes_sarif_and_fails_on_new_findings(make_repo, rng, tmp_path):
    """A PR adding a token: exit-code 1 in the step outputs, SARIF with only the new secret, a
    Markdown step summary; the fail step then fails; a clean PR gives exit-code 0."""
    old, new = github(rng), openai_project(rng)
    r = make_repo("action")
    r.write("old.env", f"T={old}\n")
    r.commit("base")
    base = r.git("rev-parse", "HEAD").strip()
    r.write("x.py", "x = 1\n")
    r.commit("clean change")
    clean_head = r.git("rev-parse", "HEAD").strip()
    r.write("app/settings.py", f"OPENAI_API_KEY = '{new}'\n")
    r.commit("add settings")
    head = r.git("rev-parse", "HEAD").strip()

    code, outputs, sarif = run_scan_step(r.path, base, head, tmp_path)
    assert code == 0 and outputs["exit-code"] == "1"  # the step records, the fail step fails
    doc = json.loads(sarif.read_text())
    results = doc["runs"][0]["results"]
    assert [res["partialFingerprints"]["secretSha256/v1"] for res in results] == [fingerprint(new)]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/settings.py"
    assert results[0]["properties"]["commit"] == head
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("### sprawlscan: 1 credential found") and new not in summary

    fail = action_steps()["Fail on new findings"]
    assert fail["if"].replace(" ", "") == "${{steps.scan.outputs.exit-code!='0'}}"
    p = subprocess.run(["bash", "-c", fail["run"]], env={**os.environ, "SPRAWLSCAN_EXIT": "1"},
                       capture_output=True, text=True, check=False)
    assert p.returncode == 1
    upload = action_steps()["Upload SARIF to code scanning"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"

    code, outputs, _ = run_scan_step(r.path, base, clean_head, tmp_path)
    assert code == 0 and outputs["exit-code"] == "0"
    code, outputs, _ = run_scan_step(r.path, "", "", tmp_path)
    assert outputs["exit-code"] == "2"
