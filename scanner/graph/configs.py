"""Graph input: agent configs and code. Takes a file's text and gives `WorkflowFile`s (one per MCP
server) with the env names it references (`${env:X}`, `${input:X}`, `${X}`, `os.environ["X"]`,
`os.getenv("X")`, `process.env.X`), literal values written in place (located by line, never
kept), LangGraph `langgraph.json` env, CrewAI YAML `${X}`, n8n credential names; and the
`NAME=` lines of dotenv files (names and lines only). Pure parsing, no values leave this module."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import regex
import yaml

from scanner.graph.inventory import WorkflowRef
from scanner.graph.workflows import Ref, WorkflowFile, strings

ENV_REF = regex.compile(r"\$\{(?:(env|input):)?([A-Za-z_][A-Za-z0-9_.-]*)\}")
CODE_REF = regex.compile(
    r"""os\.environ\s*\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]"""
    r"""|os\.(?:environ\.get|getenv)\s*\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"""
    r"""|process\.env\.([A-Za-z_][A-Za-z0-9_]*)|process\.env\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]""")
DOTENV_LINE = regex.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*[=:]\s*(\S?)")
MCP_NAMES = ("mcp.json", ".mcp.json", "claude_desktop_config.json", "mcp_config.json")
CODE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx")


def config_kind(path: str) -> str | None:
    """Which parser reads this path, or None."""
    p = PurePosixPath(path)
    if p.name in MCP_NAMES:
        return "mcp"
    if p.name == "langgraph.json":
        return "langgraph"
    if p.suffix in (".yml", ".yaml") and ("crew" in path.lower() or "config/agents" in path):
        return "crewai"
    if p.suffix == ".json" and "n8n" in path.lower():
        return "n8n"
    if p.suffix in CODE_SUFFIXES:
        return "code"
    if is_dotenv(path):
        return "dotenv"
    return None


def is_dotenv(path: str) -> bool:
    name = PurePosixPath(path).name
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def dotenv_names(text: str) -> list[tuple[int, str]]:
    """(line, NAME) of every `NAME=value` line with a non-empty value."""
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        m = DOTENV_LINE.match(line)
        if m and m.group(2) and not line.lstrip().startswith("#"):
            out.append((i, m.group(1)))
    return out


def _line_of(lines: list[str], key: str, after: int = 0) -> int | None:
    pat = regex.compile(r'["\']?' + regex.escape(key) + r'["\']?\s*:')
    hits = [i for i, ln in enumerate(lines, 1) if pat.search(ln)]
    later = [i for i in hits if i > after]
    return (later or hits)[0] if hits else None


def _env_block_refs(env: Any, server: str, lines: list[str], after: int) -> list[Ref]:
    refs: list[Ref] = []
    if not isinstance(env, dict):
        return refs
    for key, value in env.items():
        value = "" if value is None else str(value)
        found = ENV_REF.findall(value)
        if found:
            refs += [Ref(n, "input" if kind == "input" else "env", server, target=str(key)) for kind, n in found]
        elif value.startswith("$") and value[1:].isidentifier():
            refs.append(Ref(value[1:], "env", server, target=str(key)))
        elif value.strip():
            refs.append(Ref(str(key), "literal", server, target=str(key), line=_line_of(lines, str(key), after)))
    return refs


def parse_mcp(text: str, repo: str, path: str) -> list[WorkflowFile]:
    """One `WorkflowFile` per MCP server (`mcpServers` or VS Code's `servers`)."""
    try:
        return _parse_mcp(text, repo, path)
    except (AttributeError, TypeError, ValueError):
        return [WorkflowFile(WorkflowRef("mcp", repo, path), error="unexpected structure", root=False)]


def _parse_mcp(text: str, repo: str, path: str) -> list[WorkflowFile]:
    try:
        doc = json.loads(text)
    except ValueError:
        return [WorkflowFile(WorkflowRef("mcp", repo, path), error="not valid JSON")]
    servers = (doc.get("mcpServers") or doc.get("servers") or {}) if isinstance(doc, dict) else {}
    lines = text.splitlines()
    out = []
    for name, entry in servers.items() if isinstance(servers, dict) else []:
        if not isinstance(entry, dict):
            continue
        start = _line_of(lines, str(name)) or 0
        refs = _env_block_refs(entry.get("env"), str(name), lines, start)
        for s in strings({k: v for k, v in entry.items() if k != "env"}):
            refs += [Ref(n, "input" if k == "input" else "env", str(name)) for k, n in ENV_REF.findall(s)]
        out.append(WorkflowFile(WorkflowRef("mcp", repo, path, str(name)), tuple(dict.fromkeys(refs)), root=False))
    return out


def parse_langgraph(text: str, repo: str, path: str, dotenv: dict[str, str]) -> WorkflowFile:
    """`langgraph.json`: `env` is a dotenv path (its names become env refs) or an inline mapping."""
    ref = WorkflowRef("langgraph", repo, path)
    try:
        doc = json.loads(text)
    except ValueError:
        return WorkflowFile(ref, error="not valid JSON", root=False)
    env = doc.get("env") if isinstance(doc, dict) else None
    if isinstance(env, str):
        target = str(PurePosixPath(path).parent / env).removeprefix("./")
        names = [n for _, n in dotenv_names(dotenv.get(target, ""))]
        return WorkflowFile(ref, tuple(Ref(n, "env", target=n) for n in names), root=False)
    return WorkflowFile(ref, tuple(_env_block_refs(env, "", text.splitlines(), 0)), root=False)


def parse_crewai(text: str, repo: str, path: str) -> WorkflowFile:
    ref = WorkflowRef("crewai", repo, path)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return WorkflowFile(ref, error="not valid YAML", root=False)
    refs = [Ref(n, "env") for s in strings(doc) for _, n in ENV_REF.findall(s)]
    return WorkflowFile(ref, tuple(dict.fromkeys(refs)), root=False)


def parse_n8n(text: str, repo: str, path: str) -> WorkflowFile:
    """n8n workflow export: `nodes[].credentials.<type>.name` names a stored n8n credential."""
    ref = WorkflowRef("n8n", repo, path)
    try:
        doc = json.loads(text)
    except ValueError:
        return WorkflowFile(ref, error="not valid JSON", root=False)
    refs = []
    for node in doc.get("nodes", []) if isinstance(doc, dict) else []:
        for cred in (node.get("credentials") or {}).values() if isinstance(node, dict) else []:
            if isinstance(cred, dict) and cred.get("name"):
                refs.append(Ref(str(cred["name"]), "n8n", str(node.get("name", ""))))
    return WorkflowFile(ref, tuple(dict.fromkeys(refs)), root=False)


def parse_code(text: str, repo: str, path: str) -> WorkflowFile | None:
    names = [next(g for g in m if g) for m in CODE_REF.findall(text)]
    if not names:
        return None
    return WorkflowFile(WorkflowRef("code", repo, path), tuple(dict.fromkeys(Ref(n, "env") for n in names)),
                        root=False)
