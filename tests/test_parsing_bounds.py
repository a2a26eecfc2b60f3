"""Parsing bounds: one hostile file (100k-level nesting, a YAML alias bomb, /dev/zero as an export,
a huge binary file) is a counted skip or one clear line, never a lost report or a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli import main
from scanner.parsing import MAX_DEPTH, TooComplex, check_yaml, json_loads, yaml_load_all
from tokens import github, openai_project

DEEP = 100_000


def deep_json() -> str:
    return '{"mcpServers": {"a": {"env": ' + '{"k": ' * DEEP + "1" + "}" * DEEP + "}}}"


def deep_yaml() -> str:
    return "services:\n  app:\n    environment: " + "[" * DEEP + "]" * DEEP + "\n"


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def bomb_secret_manifest() -> str:
    return ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n" + billion_laughs() +
            "data:\n  k: *a8\n")


def test_deep_json_and_yaml_are_refused_by_the_parsers():
    """The bounded parsers raise `TooComplex` (a ValueError naming the reason), not RecursionError."""
    with pytest.raises(TooComplex) as exc:
        json_loads(deep_json())
    assert exc.value.reason == "too-deep"
    with pytest.raises(TooComplex) as exc:
        check_yaml(deep_yaml())
    assert exc.value.reason == "too-deep"
    assert json_loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) == json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)


def test_billion_laughs_is_refused_quickly():
    """A YAML alias bomb is refused by counting alias expansions, in well under a second, while an
    ordinary file with anchors (GitLab CI style `<<: *defaults`) loads."""
    t = time.perf_counter()
    with pytest.raises(TooComplex) as exc:
        yaml_load_all(billion_laughs())
    assert exc.value.reason == "alias-bomb" and time.perf_counter() - t < 1
    ci = ".defaults: &defaults\n  image: x\n  tags: [a, b]\njob1:\n  <<: *defaults\n  script: [echo]\n"
    assert yaml_load_all(ci) == list(yaml.safe_load_all(ci))


def test_deep_mcp_json_is_a_counted_skip_and_the_report_is_written(tmp_path, rng):
    """A 100k-level mcp.json next to a real secret: the scan reports the secret, counts the skip
    under `too-deep`, exits 1 (not 2), and writes its JSON."""
    (tmp_path / "mcp.json").write_text(deep_json())
    (tmp_path / "docker-compose.yml").write_text(deep_yaml())
    key = openai_project(rng)
    (tmp_path / "app.env").write_text(f"OPENAI_API_KEY={key}\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(tmp_path)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert len(doc["findings"]) == 1
    assert doc["summary"]["skipped"]["too-deep"] == 2


def test_deep_blob_in_git_history_is_a_counted_skip(make_repo, rng):
    """The same file committed to history (the streamed-blob path): a counted skip, report written."""
    r = make_repo("deep")
    r.write("mcp.json", deep_json())
    r.write("ci.env", f"TOKEN={github(rng)}\n")
    r.commit("add")
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(r.path)])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["findings"] and doc["summary"]["skipped"]["too-deep"] >= 1


def test_deep_export_is_skipped_with_its_reason_and_others_are_scanned(tmp_path, rng):
    """A vault export nested 100k deep: counted, named in the errors (exit 3, incomplete) and the
    other source's findings are still reported."""
    export = tmp_path / "vault.json"
    export.write_text('{"data": {"data": {"x": ' + "[" * DEEP + "]" * DEEP + "}}}")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.env").write_text(f"OPENAI_API_KEY={openai_project(rng)}\n")
    for scheme in ("vault-export", "jira-export", "confluence-export"):
        res = CliRunner().invoke(main, ["scan", "--format", "json", f"{scheme}:{export}",
                                        str(tmp_path / "src")])
        assert res.exit_code == 3, (scheme, res.output)
        doc = json.loads(res.stdout)
        assert doc["incomplete"] is True and len(doc["findings"]) == 1
        assert doc["summary"]["skipped"]["too-deep"] == 1
        assert any("nested deeper" in e for e in doc["incomplete_reasons"])


def test_alias_bomb_in_workflows_and_configs_does_not_hang_the_graph_commands(tmp_path, rng):
    """survivors / audit / graph read a Kubernetes Secret, a compose file and a CI file that are
    alias bombs: they finish in seconds with their one-line warnings."""
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(billion_laughs() + "on: push\n")
    (repo / "secret.yaml").write_text(bomb_secret_manifest())
    (repo / "docker-compose.yml").write_text(billion_laughs() + "services:\n  a:\n    environment: *a8\n")
    (repo / ".env").write_text(f"OPENAI_API_KEY={openai_project(rng)}\n")
    t = time.perf_counter()
    for args in (["audit", "--format", "json", str(repo)],
                 ["graph", "--format", "json", "-o", str(tmp_path / "g.json"), str(repo)],
                 ["survivors", "nobody", "--format", "json", str(repo)]):
        res = CliRunner().invoke(main, args)
        assert res.exit_code in (0, 1, 2, 3), (args, res.output)
        assert "internal error" not in res.output and "Traceback" not in res.output, res.output
    assert time.perf_counter() - t < 60
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(repo)])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["summary"]["skipped"]["alias-bomb"] >= 1


def test_inventory_alias_bomb_is_one_line(tmp_path):
    """An inventory that is an alias bomb: exit 2 with one line naming the file."""
    inv = tmp_path / "agents.yaml"
    inv.write_text(billion_laughs())
    (tmp_path / "src").mkdir()
    res = CliRunner().invoke(main, ["audit", "--inventory", str(inv), str(tmp_path / "src")])
    assert res.exit_code == 2
    assert "alias" in res.output and str(inv) in res.output


@pytest.mark.parametrize("scheme", ["vault-export", "jira-export", "confluence-export"])
def test_dev_zero_and_fifo_exports_are_refused(tmp_path, scheme):
    """`/dev/zero` or a FIFO given as an export: exit 2 with one line, at once (no read, no hang)."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    for target in ("/dev/zero", str(fifo)):
        p = subprocess.run([sys.executable, "-m", "scanner", "scan", f"{scheme}:{target}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2, p.stderr
        assert p.stderr.strip().splitlines() == [f"sprawlscan: {target}: "
                                                 f"{_what(scheme)} is not a regular file"]


def _what(scheme: str) -> str:
    return {"vault-export": "vault export", "jira-export": "Jira export",
            "confluence-export": "Confluence export"}[scheme]


def test_binary_check_reads_only_the_first_8_kib(tmp_path):
    """A 1 GiB sparse binary file with `--max-file-size` raised: skipped as binary while the
    process stays far below the file's size in memory."""
    big = tmp_path / "d" / "disk.img"
    big.parent.mkdir()
    with big.open("wb") as fh:
        fh.truncate(1024 ** 3)
    # VmHWM: this process's own peak (ru_maxrss survives exec on Linux: it would count the
    # test runner's memory at the fork, which grows with the suite)
    code = ("import re, resource, sys\nfrom pathlib import Path\nfrom scanner.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            "status = Path('/proc/self/status')\n"
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', status.read_text()) if status.exists() else None\n"
            "peak = hwm.group(1) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(peak, rc, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code, "scan", "--format", "json",
                        "--max-file-size", str(4 * 1024 ** 3), str(big.parent)],
                       capture_output=True, text=True, timeout=120)
    rss_kib, rc = p.stderr.split()[-2:]
    assert rc == "0"
    assert json.loads(p.stdout)["summary"]["skipped"] == {"binary": 1}
    assert int(rss_kib) < 300 * 1024
