"""Conventions a new user relies on: where sprawlscan.toml is found, excludes that add to the
defaults, fingerprint prefixes the table shows and allowlists / baselines accept, the scan options
on the graph commands, a suggestion for a mistyped source scheme, quiet closed pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tokens import github, slack_bot

from scanner.cli import main
from scanner.findings import Findings, unique_prefixes
from scanner.model import KnownMatch, Location, fingerprint

ROOT = Path(__file__).resolve().parent.parent
GITLEAKS_RULE = """[[rules]]
id = "acme-session"
description = "ACME session id"
regex = 'acmsess_[A-Z0-9]{24}'
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRAWLSCAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "scanner", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL)


def found(p: subprocess.CompletedProcess[str]) -> set[str]:
    return {f["secret_sha256"] for f in json.loads(p.stdout)["findings"]}


def test_config_is_found_from_the_target_up_to_its_repository_root(make_repo, tmp_path, rng):
    """A repository's sprawlscan.toml governs a scan of any folder inside it, from any working
    directory; a config above the repository root is not read."""
    a, b = github(rng), github(rng)
    repo = make_repo("app")
    repo.write("src/deep/t.txt", f"{a}\n{b}\n")
    repo.commit("add")
    repo.write("sprawlscan.toml", f'[allowlist]\nfingerprints = ["{fingerprint(a)}"]\n')
    (tmp_path / "sprawlscan.toml").write_text(f'[allowlist]\nfingerprints = ["{fingerprint(b)}"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = cli("scan", "--format", "json", "--no-history", str(repo.path / "src" / "deep"), cwd=elsewhere)
    assert p.returncode == 1, p.stderr
    assert found(p) == {fingerprint(b)}


def test_targets_with_different_configs_are_refused(make_repo, tmp_path):
    """Two repositories with different sprawlscan.toml in one scan: one line, exit 2."""
    one, two = make_repo("one"), make_repo("two")
    for r in (one, two):
        r.write("sprawlscan.toml", f"[scan]\nmax_file_size = {1000 + len(r.path.name)}\n")
    p = cli("scan", "--format", "json", str(one.path), str(two.path), cwd=tmp_path)
    assert p.returncode == 2 and "have different sprawlscan.toml" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_unknown_config_key_is_refused_by_name(tmp_path):
    """A misspelt key is not silently ignored: one line names it, exit 2."""
    (tmp_path / "sprawlscan.toml").write_text("[scan]\nhistroy = false\n")
    p = cli("scan", ".", cwd=tmp_path)
    assert p.returncode == 2 and "'histroy' (did you mean 'history'?)" in p.stderr


def test_exclude_adds_to_the_defaults(tmp_path, rng):
    """`--exclude gen` still skips node_modules; `--no-default-excludes` scans it again."""
    vendored, generated, kept = github(rng), github(rng), github(rng)
    for rel, tok in (("node_modules/x/t.js", vendored), ("gen/t.txt", generated), ("src/t.txt", kept)):
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_text(f"token = '{tok}'\n")
    p = cli("scan", "--format", "json", "--exclude", "gen", str(tmp_path))
    assert found(p) == {fingerprint(kept)}
    p = cli("scan", "--format", "json", "--exclude", "gen", "--no-default-excludes", str(tmp_path))
    assert found(p) == {fingerprint(kept), fingerprint(vendored)}


def test_table_prefix_is_accepted_by_allowlist_and_baseline(tmp_path, rng):
    """The fingerprint prefix the table shows suppresses that credential through --allowlist and
    through a baseline; the other credential is still reported."""
    a, b = github(rng), slack_bot(rng)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "t.txt").write_text(f"{a}\n{b}\n")
    table = cli("scan", "--format", "table", str(tmp_path / "src")).stdout
    short = unique_prefixes([fingerprint(a), fingerprint(b)])[fingerprint(a)]
    assert len(short) >= 12 and short in table and fingerprint(a) not in table
    (tmp_path / "allow.txt").write_text(f"{short}  # from the table\n")
    p = cli("scan", "--format", "json", "--allowlist", str(tmp_path / "allow.txt"), str(tmp_path / "src"))
    assert found(p) == {fingerprint(b)}
    assert json.loads(p.stdout)["summary"]["skipped"]["allowlisted"] == 1
    p = cli("scan", "--format", "json", "--baseline", str(tmp_path / "allow.txt"), str(tmp_path / "src"))
    assert found(p) == {fingerprint(b)}
    (tmp_path / "short.txt").write_text(short[:11] + "\n")
    p = cli("scan", "--allowlist", str(tmp_path / "short.txt"), str(tmp_path / "src"))
    assert p.returncode == 2 and "at least 12 hex" in p.stderr


def test_a_prefix_matching_two_credentials_hides_neither():
    """An allowlist prefix that is not unique suppresses nothing (and says so in a counter)."""
    fa, fb, fc = "abcdef012345" + "0" * 52, "abcdef012345" + "1" * 52, "f" * 64
    f = Findings(frozenset({"abcdef012345", fc[:20]}))
    for fp in (fa, fb, fc, fa):
        f.add_known(KnownMatch(fp, "x.y", "x", "x…(9)", 1), (Location("file", path=fp[-3:]),))
    creds = f.credentials()
    assert {c.fingerprint for c in creds} == {fa, fb}
    assert f.ambiguous == {"abcdef012345"} and f.allowlisted == 1 and f.allowlisted_fps == {fc}


def test_unique_prefixes_grow_past_a_shared_start():
    """Two fingerprints sharing 13 hex digits are shown with 14; others with 12."""
    fa, fb, fc = "0123456789abc0" + "0" * 50, "0123456789abc1" + "0" * 50, "9" * 64
    assert unique_prefixes([fa, fb, fc]) == {fa: fa[:14], fb: fb[:14], fc: fc[:12]}


def test_graph_commands_take_the_scan_options(make_repo, tmp_path, rng):
    """`graph`, `survivors` and `audit` accept --no-history, --exclude, --rules and
    --max-file-size, and scan with them: a secret only in history is not in the graph."""
    old, live = github(rng), github(rng)
    custom = "acmsess_" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(24))
    repo = make_repo("app")
    repo.write("old.txt", f"{old}\n")
    repo.write("session.txt", f"{custom}\n")
    repo.commit("old")
    repo.git("rm", "-q", "old.txt")
    repo.write("live.txt", f"{live}\n")
    repo.commit("live")
    rules = tmp_path / "extra.toml"
    rules.write_text(GITLEAKS_RULE)
    out = tmp_path / "g.json"
    common = ["--no-history", "--exclude", "nothing-here", "--max-file-size", "100000", "--rules", str(rules)]
    res = CliRunner().invoke(main, ["graph", *common, "--format", "json", "--output", str(out), str(repo.path)])
    assert res.exit_code == 0, res.output
    nodes = {n["id"] for n in json.loads(out.read_text())["nodes"]}
    assert f"credential:{fingerprint(live)}" in nodes and f"credential:{fingerprint(old)}" not in nodes
    assert f"credential:{fingerprint(custom)}" in nodes
    res = CliRunner().invoke(main, ["graph", "--format", "json", "--output", str(out), str(repo.path)])
    nodes = {n["id"] for n in json.loads(out.read_text())["nodes"]}
    assert f"credential:{fingerprint(old)}" in nodes and f"credential:{fingerprint(custom)}" not in nodes
    inv = tmp_path / "agents.yaml"
    inv.write_text("apiVersion: sprawlscan/v1\nkind: AgentInventory\nagents:\n  - name: bot\n"
                   "    owner: group:x\n    technicalOwner: user:y\n")
    for cmd in (["survivors", "bot"], ["audit"]):
        res = CliRunner().invoke(main, [*cmd, "--inventory", str(inv), *common, "--format", "json", str(repo.path)])
        assert res.exit_code in (0, 1), res.output
        json.loads(res.output)


@pytest.mark.parametrize("target,hint", [("githb:acme", "did you mean github:?"),
                                         ("vault-exprt:x.json", "did you mean vault-export:?"),
                                         ("zzzz:acme", "known schemes: confluence:")])
def test_mistyped_source_scheme_suggests_the_closest(tmp_path, target, hint):
    """An unknown scheme that is not a path: one line naming the closest scheme, exit 2."""
    p = cli("scan", target, cwd=tmp_path)
    assert p.returncode == 2 and hint in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_a_file_whose_name_has_a_colon_is_still_a_path(tmp_path, rng):
    """`notes:today.txt` exists, so it is scanned as a file, not refused as a scheme."""
    tok = github(rng)
    (tmp_path / "notes:today.txt").write_text(f"{tok}\n")
    p = cli("scan", "--format", "json", "notes:today.txt", cwd=tmp_path)
    assert found(p) == {fingerprint(tok)}


def test_closed_pipe_ends_quietly(tmp_path):
    """`sprawlscan rules list | head -1`: no traceback and no "internal error" when the reader
    leaves, and the exit code is not 0 (a pipefail gate must not pass on a cut report)."""
    (tmp_path / "many.toml").write_text("\n".join(
        f'[[rules]]\nid = "acme-{i}"\ndescription = "r"\nregex = \'acme{i}_[A-Z0-9]{{24}}\'\n'
        for i in range(3000)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRAWLSCAN_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "scanner", "rules", "list", "--rules", str(tmp_path / "many.toml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert err == ""


def test_jsonl_is_one_credential_a_line_with_severity(tmp_path, rng):
    """`--format jsonl`: a line per credential (with `severity`, like the JSON report's findings),
    then one summary line; the values never appear."""
    a, b = github(rng), slack_bot(rng)
    (tmp_path / "t.txt").write_text(f"{a}\n{b}\n")
    p = cli("scan", "--format", "jsonl", str(tmp_path))
    assert p.returncode == 1
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    creds, summary = lines[:-1], lines[-1]
    assert [x["type"] for x in creds] == ["credential", "credential"] and summary["type"] == "summary"
    assert {x["secret_sha256"] for x in creds} == {fingerprint(a), fingerprint(b)}
    assert all(x["severity"] in ("low", "medium", "high", "critical") for x in creds)
    full = json.loads(cli("scan", "--format", "json", str(tmp_path)).stdout)["findings"]
    assert [{k: v for k, v in x.items() if k != "type"} for x in creds] == full
    assert summary["credentials"] == 2 and summary["incomplete"] is False
    assert a not in p.stdout and b not in p.stdout


def test_aws_preview_shows_the_key_id_not_the_secret(tmp_path, rng):
    """An AWS key pair is previewed by its access key id (what a console shows); nothing of the
    secret half but its length."""
    from tokens import aws_pair

    key_id, secret = aws_pair(rng)
    (tmp_path / "creds").write_text(f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
    [f] = json.loads(cli("scan", "--format", "json", str(tmp_path)).stdout)["findings"]
    assert f["redacted"] == f"{key_id[:8]}…(20) + secret (40)"
    assert secret[:4] not in f["redacted"]


def test_git_copies_carry_commit_author_and_date(make_repo, rng):
    """Each git copy names the author and date of the commit that introduced it, in the JSON and
    JSON Lines reports, for full-history scans and for `--diff` gates."""
    old, new = github(rng), github(rng)
    repo = make_repo("app")
    repo.write("a.txt", f"{old}\n")
    repo.commit("first")
    base = repo.git("rev-parse", "HEAD").strip()
    repo.write("b.txt", f"{new}\n")
    repo.git("add", "b.txt")
    repo.git("-c", "user.name=Ada Lovelace", "-c", "user.email=ada@acme.test", "commit", "-q",
             "--author", "Ada Lovelace <ada@acme.test>", "--date", "2024-03-05T10:11:12+01:00", "-m", "second")
    head = repo.git("rev-parse", "HEAD").strip()
    p = cli("scan", "--format", "jsonl", str(repo.path))
    lines = {x["secret_sha256"]: x for x in map(json.loads, p.stdout.splitlines()) if x["type"] == "credential"}
    [loc] = [x for x in lines[fingerprint(new)]["locations"] if x["commit"] == head]
    assert loc["attributes"] == {"author": "Ada Lovelace <ada@acme.test>", "date": "2024-03-05T10:11:12+01:00"}
    [loc] = lines[fingerprint(old)]["locations"]
    assert loc["attributes"]["author"] == "Demo <demo@acme.test>"
    p = cli("scan", "--format", "json", "--diff", f"{base}..{head}", str(repo.path))
    [f] = json.loads(p.stdout)["findings"]
    assert f["locations"][0]["attributes"]["author"] == "Ada Lovelace <ada@acme.test>"


@pytest.mark.parametrize("mode", [["--staged"], ["--diff", "HEAD~1..HEAD"], ["--since-commit", "HEAD~1"]])
def test_ci_modes_outside_a_repository_fail_loudly(tmp_path, mode):
    """A pre-merge mode outside a git repository is a usage error (exit 2, one line), never a
    silent pass with nothing scanned."""
    (tmp_path / "a.txt").write_text("x\n")
    p = cli("scan", *mode, cwd=tmp_path)
    assert p.returncode == 2 and "not a git repository" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
