"""Fuzzing every parser of untrusted input with Hypothesis: random and mutated JSON, YAML,
notebook, dotenv and export bytes. No exception escapes except the project's own errors
(`SprawlscanError`), and each input is handled within a bounded time (the per-example deadline)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from scanner.engine import Engine
from scanner.errors import SprawlscanError
from scanner.graph.inventory import WorkflowRef, load_inventory
from scanner.graph.workflows import parse_github, parse_gitlab
from scanner.manifests import extra_matches
from scanner.model import Chunk, Location, ScanStats
from scanner.agent_configs import parse_agent_config
from scanner.sources.base import structured
from scanner.sources.confluence_pages import ConfluenceExportSource
from scanner.sources.jira_tickets import JiraExportSource
from scanner.sources.vault_export import VaultExportSource

ENGINE = Engine(load_rules())
FUZZ = settings(max_examples=60, deadline=3000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SEEDS = {
    "mcp.json": json.dumps({"mcpServers": {"gh": {"command": "npx", "args": ["-y", "x"],
                                                  "env": {"GITHUB_TOKEN": "${GH}", "API_KEY": "abcd1234efgh"}}}}),
    "langgraph.json": json.dumps({"graphs": {"a": "./a.py:g"}, "env": ".env"}),
    "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: c2VjcmV0dmFsdWUxMjM=\n",
    "docker-compose.yml": "services:\n  a:\n    image: x\n    environment:\n      - API_KEY=abc123def456\n",
    "crew.yaml": "agents:\n  - role: r\n    llm: gpt\n",
    ".env": "export OPENAI_API_KEY=sk-abc\nDB_PASSWORD='x y'\nMULTI=\"-----BEGIN\nKEY\"\n",
    "nb.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": ["k = 'x'\n"],
                                        "outputs": [{"text": ["out"]}]}], "metadata": {}}),
    "workflow.yml": "on: push\njobs:\n  a:\n    uses: ./.github/workflows/b.yml\n    secrets: inherit\n"
                    "  b:\n    runs-on: x\n    steps:\n      - run: echo ${{ secrets.T }}\n",
    ".gitlab-ci.yml": ".d: &d\n  image: x\njob:\n  <<: *d\n  script: [echo $TOKEN]\n"
                      "  trigger:\n    include: a.yml\n",
}
EXPORTS = {
    "vault": json.dumps({"data": {"data": {"API_KEY": "abc123def456"},
                                  "metadata": {"version": 2, "custom_metadata": {"a": "b"}}}}),
    "jira": json.dumps({"issues": [{"key": "A-1", "self": "https://j/rest/api/2/issue/A-1",
                                    "fields": {"description": "d", "comment": {"comments": [{"body": "c"}]},
                                               "attachment": []}, "changelog": {"histories": []}}]}),
    "confluence": json.dumps({"results": [{"id": "1", "title": "t", "version": {"number": 1},
                                           "body": {"storage": {"value": "<p>x</p>"}}}],
                              "_links": {"base": "https://c"}}),
}


@st.composite
def mutated(draw, seed: str) -> bytes:
    """`seed` with a few random byte edits: flips, insertions of structural characters, cuts."""
    data = bytearray(seed.encode())
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "dup"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.sampled_from([b"{", b"[", b"&a ", b"*a", b"\"", b"\\", b": ",
                                                  b"\n- ", b"\x00", b"\xff", b"!!python/object ",
                                                  b"<<: *a\n", b"{{", b"${", b"null"]))
        elif kind == "delete" and data:
            del data[pos]
        elif kind == "cut":
            del data[pos:]
        elif kind == "dup":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 40))]
    return bytes(data)


def inputs(seed: str) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated(seed), st.binary(max_size=400),
                     st.text(alphabet="{}[]:,\"'&*!-#\n aZ0=$<>|", max_size=300).map(str.encode))


def _timed(fn) -> None:
    t = time.perf_counter()
    fn()
    assert time.perf_counter() - t < 3


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_scanning_parsers_never_raise(name):
    """The engine and the structured-config pass on a file of this name: no exception at all."""

    @FUZZ
    @given(inputs(SEEDS[name]))
    def run(data: bytes) -> None:
        chunk = Chunk(data, (Location("file", "", name),), hint=name)
        stats = ScanStats()
        _timed(lambda: structured(chunk, ENGINE, ENGINE.scan(data), stats))

    run()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_graph_parsers_never_raise(name):
    """Agent configs and workflows (what survivors / audit / graph read): no exception at all."""
    ref = WorkflowRef("github", "acme/x", ".github/workflows/ci.yml")

    @FUZZ
    @given(inputs(SEEDS[name]))
    def run(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        _timed(lambda: parse_agent_config(name, text))
        _timed(lambda: parse_github(text, ref))
        _timed(lambda: parse_gitlab(text, WorkflowRef("gitlab", "g/p", ".gitlab-ci.yml")))

    run()


def test_structured_pass_keeps_its_own_errors_only():
    """`extra_matches` may raise only the bounded parsers' `TooComplex` (counted by its caller)."""
    from scanner.parsing import TooComplex

    deep = "services:\n  a:\n    environment: " + "[" * 500 + "]" * 500 + "\n"
    with pytest.raises(TooComplex):
        extra_matches(Chunk(deep.encode(), (), hint="docker-compose.yml"), ENGINE, [])


@pytest.mark.parametrize("kind", sorted(EXPORTS))
def test_export_readers_raise_only_project_errors(kind, tmp_path):
    """Vault, Jira and Confluence export readers: a `SprawlscanError` (one line, exit 2/3) or a
    scan; nothing else."""
    cls = {"vault": VaultExportSource, "jira": JiraExportSource,
           "confluence": ConfluenceExportSource}[kind]
    path = tmp_path / "export.json"

    @FUZZ
    @given(inputs(EXPORTS[kind]))
    def run(data: bytes) -> None:
        path.write_bytes(data)

        def read() -> None:
            try:
                source = cls(path)
                for chunk in source.chunks(ScanStats()):
                    ENGINE.scan(chunk.data)
            except SprawlscanError:
                pass

        _timed(read)

    run()


def test_inventory_loader_raises_only_project_errors(tmp_path):
    """agents.yaml / catalog-info.yaml: a `SprawlscanError` or an inventory; nothing else."""
    path: Path = tmp_path / "agents.yaml"
    seed = ("kind: AgentInventory\nagents:\n  - name: a\n    owner: o\n    identities: [i]\n"
            "    credentials:\n      - vault: secret/a#k\n")

    @FUZZ
    @given(inputs(seed))
    def run(data: bytes) -> None:
        path.write_bytes(data)

        def read() -> None:
            try:
                load_inventory(path)
            except SprawlscanError:
                pass

        _timed(read)

    run()
