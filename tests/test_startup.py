"""Start-up: a plain `sprawlscan scan DIR` of code files loads only what scanning needs (the
datastore, notifications with urllib/http.client/ssl, the graph's parsers and the verifier
registry load when a flag or a file asks for them), and a warm compiled-rules cache spares
rewriting every rule into a Hyperscan gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from detectors.loader import load_rules
from scanner import gates
from scanner.engine import Engine

LAZY = ("scanner.notify", "urllib.request", "http.client", "ssl", "scanner.store", "sqlite3",
        "scanner.graph.collect", "scanner.graph.workflows", "scanner.graph.configs",
        "scanner.verify.registry", "scanner.verify.providers", "scanner.verify.special")
"""Modules a plain scan of code files must not import."""

PROBE = """\
import json, sys
from scanner.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as f:
    json.dump(sorted(sys.modules), f)
"""


def _modules_after(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("SPRAWLSCAN_DB", None)
    subprocess.run([sys.executable, "-c", PROBE, str(out), *args], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    return set(json.loads(out.read_text()))


def test_a_plain_scan_of_code_files_imports_none_of_the_lazy_modules(tmp_path):
    """A fresh interpreter running `scan --format json DIR` on one small Python file has loaded
    none of LAZY; the same probe sees them when a flag or a file needs them (`--db` loads the
    datastore, a workflow file the graph's parsers), so it is not blind."""
    target = tmp_path / "one"
    target.mkdir()
    (target / "settings.py").write_text("DEBUG = True\nNAME = 'demo'\n")
    loaded = _modules_after(tmp_path, "scan", "--format", "json", str(target))
    assert "scanner.engine" in loaded and "scanner.cli" in loaded
    assert sorted(loaded.intersection(LAZY)) == []

    assert {"scanner.store", "sqlite3"} <= _modules_after(
        tmp_path, "scan", "--format", "json", "--db", str(tmp_path / "s.db"), str(target))
    wf = target / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text("on: push\njobs:\n  a:\n    uses: acme/x/.github/workflows/r.yml@v1\n")
    assert "scanner.graph.collect" in _modules_after(tmp_path, "scan", "--format", "json",
                                                     str(target))


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_warm_cache_builds_the_hyperscan_engine_without_rewriting_a_gate(cache_home, monkeypatch):
    """The second engine over the same rules loads its database and gated rules from the cache
    without calling `gate_pattern`; the same gated rules and the same matches come out."""
    rules = load_rules()
    calls = []
    real = gates.gate_pattern
    monkeypatch.setattr(gates, "gate_pattern", lambda p: calls.append(p) or real(p))
    first = Engine(rules, backend="hyperscan")
    assert len(calls) == len([r for r in rules if r.id not in gates.SLOW_GATES])
    calls.clear()
    second = Engine(rules, backend="hyperscan")
    assert calls == []
    assert first._gated == second._gated and len(first._gated) > len(rules) // 2
    sample = "\n".join(e for r in rules if r.id.startswith("square.") for e in r.examples).encode()
    assert first.scan(sample) == second.scan(sample) != []


def test_the_gate_cache_key_follows_the_rewriting_code_and_the_patterns(cache_home, monkeypatch):
    """A change to `scanner/gates.py` (its digest) or to one pattern is a new key: the gates are
    rewritten again, never read from an entry made by other code or other rules."""
    rules = load_rules()
    Engine(rules, backend="hyperscan")
    calls = []
    real = gates.gate_pattern
    monkeypatch.setattr(gates, "gate_pattern", lambda p: calls.append(p) or real(p))
    digest = gates._code_digest
    monkeypatch.setattr(gates, "_code_digest", lambda: b"0" * 64)
    Engine(rules, backend="hyperscan")
    assert len(calls) == len([r for r in rules if r.id not in gates.SLOW_GATES])
    # (not `monkeypatch.undo()`: it would also undo `cache_home`, and the rest would read and
    # write the developer's own cache, where an entry left by an earlier run hides the rewrite)
    monkeypatch.setattr(gates, "_code_digest", digest)
    calls.clear()
    from dataclasses import replace

    changed = [replace(r, pattern=r.pattern + "(?:)") if i == 0 else r for i, r in enumerate(rules)]
    Engine(changed, backend="hyperscan")
    assert len(calls) == len([r for r in rules if r.id not in gates.SLOW_GATES])
