"""CI modes read their configuration from the base, never from the change being checked: a pull
request that adds its own allowlist entry, allowlist file, `max_file_size = 1` or a permissive
rule file still fails the gate; the report names the configuration used."""

from __future__ import annotations

import json

from click.testing import CliRunner
from tokens import github, openai_project

from scanner.cli import main
from scanner.model import fingerprint


def _scan(*args: str, cwd, monkeypatch) -> tuple[int, dict]:
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("SPRAWLSCAN_CONFIG", raising=False)
    res = CliRunner().invoke(main, ["scan", "--format", "json", *args])
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def _base(make_repo, rng):
    r = make_repo("gate")
    known = openai_project(rng)
    r.write("app.py", "x = 1\n")
    r.write("sprawlscan.toml", f'[allowlist]\nfingerprints = ["{fingerprint(known)}"]\n')
    r.commit("base")
    return r, r.git("rev-parse", "HEAD").strip(), known


def test_a_pull_request_cannot_allowlist_its_own_secret(make_repo, rng, monkeypatch):
    """The PR adds a secret and, in the same change, its fingerprint to sprawlscan.toml, an
    allowlist file and `max_file_size = 1`: `--diff` and `--since-commit` still report it (exit
    1), and summary.config names BASE:sprawlscan.toml."""
    r, base, known = _base(make_repo, rng)
    leaked = github(rng)
    r.write("app.py", f"x = 1\nTOKEN = '{leaked}'\nOLD = '{known}'\n")
    r.write("allow.txt", fingerprint(leaked) + "\n")
    r.write("sprawlscan.toml", "[scan]\nmax_file_size = 1\nexclude = ['*.py']\n[allowlist]\n"
            f'fingerprints = ["{fingerprint(leaked)}", "{fingerprint(known)}"]\n'
            'files = ["allow.txt"]\n')
    r.commit("pr")
    for args in (["--diff", f"{base}..HEAD"], ["--since-commit", base]):
        code, doc = _scan(*args, str(r.path), cwd=r.path, monkeypatch=monkeypatch)
        assert code == 1
        assert {f["secret_sha256"] for f in doc["findings"]} == {fingerprint(leaked)}
        assert doc["summary"]["config"] == f"{base}:sprawlscan.toml ({base[:12]})"


def test_staged_mode_reads_the_committed_configuration(make_repo, rng, monkeypatch):
    """`--staged` (the pre-commit hook) uses HEAD's sprawlscan.toml, not the working tree's."""
    r, _, _ = _base(make_repo, rng)
    leaked = github(rng)
    r.write("new.py", f"T = '{leaked}'\n")
    r.write("sprawlscan.toml", f'[allowlist]\nfingerprints = ["{fingerprint(leaked)}"]\n')
    r.git("add", "new.py", "sprawlscan.toml")
    code, doc = _scan("--staged", cwd=r.path, monkeypatch=monkeypatch)
    assert code == 1 and doc["summary"]["config"].startswith("HEAD:sprawlscan.toml")


def test_base_allowlist_files_and_rules_are_read_from_the_base(make_repo, rng, monkeypatch):
    """An allowlist file the base config names, emptied or rewritten by the PR, is read as the
    base has it: the PR's own new fingerprint in it does not count; the base's does."""
    r = make_repo("files")
    known = openai_project(rng)
    r.write("allow.txt", fingerprint(known) + "\n")
    r.write("sprawlscan.toml", '[allowlist]\nfiles = ["allow.txt"]\n')
    r.write("a.py", "x = 1\n")
    r.commit("base")
    base = r.git("rev-parse", "HEAD").strip()
    leaked = github(rng)
    r.write("allow.txt", fingerprint(leaked) + "\n")
    r.write("a.py", f"K = '{known}'\nT = '{leaked}'\n")
    r.commit("pr")
    code, doc = _scan("--diff", f"{base}..HEAD", cwd=r.path, monkeypatch=monkeypatch)
    assert code == 1
    assert {f["secret_sha256"] for f in doc["findings"]} == {fingerprint(leaked)}


def test_workflow_given_config_path_wins(make_repo, rng, monkeypatch, tmp_path):
    """SPRAWLSCAN_CONFIG (a path the workflow gives) is the configuration, and is named."""
    r, base, _ = _base(make_repo, rng)
    leaked = github(rng)
    r.write("b.py", f"T = '{leaked}'\n")
    r.commit("pr")
    cfg = tmp_path / "trusted.toml"
    cfg.write_text(f'[allowlist]\nfingerprints = ["{fingerprint(leaked)}"]\n')
    monkeypatch.chdir(r.path)
    monkeypatch.setenv("SPRAWLSCAN_CONFIG", str(cfg))
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--diff", f"{base}..HEAD"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["summary"]["config"] == f"{cfg} (SPRAWLSCAN_CONFIG)"


def test_base_without_a_config_uses_defaults(make_repo, rng, monkeypatch):
    """No sprawlscan.toml in the base: the PR's new one is ignored, defaults apply."""
    r = make_repo("nocfg")
    r.write("a.py", "x = 1\n")
    r.commit("base")
    base = r.git("rev-parse", "HEAD").strip()
    leaked = github(rng)
    r.write("a.py", f"T = '{leaked}'\n")
    r.write("sprawlscan.toml", f'[allowlist]\nfingerprints = ["{fingerprint(leaked)}"]\n')
    r.commit("pr")
    code, doc = _scan("--diff", f"{base}..HEAD", cwd=r.path, monkeypatch=monkeypatch)
    assert code == 1 and doc["summary"]["config"].startswith(f"none in {base}")
