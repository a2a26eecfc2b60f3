"""Graph input: agent configs and code. Takes a file's text and gives `WorkflowFile`s (one per MCP
server / compose service, one per LangGraph, CrewAI or n8n file) with the names they reference,
and the `NAME=` lines of dotenv files (names and lines only). Config formats are read by the
shared pure parser `scanner.agent_configs`; this module maps its `NameRef`s onto graph
`Ref`s: `env-ref` → `env`, `input` → `input`, `credential` → `n8n`, `env-set` (a literal value
written in place, located by line, never kept) → `literal`. Code is read here: `os.environ["X"]`,
`os.getenv("X")`, `process.env.X`."""

from __future__ import annotations

import dataclasses
import posixpath
from pathlib import PurePosixPath

import regex
import yaml

from scanner.graph.inventory import WorkflowRef
from scanner.graph.workflows import Ref, WorkflowFile
from scanner.agent_configs import (CODE_SUFFIXES, MCP_NAMES, AgentConfig, NameRef, config_kind, is_dotenv,  # noqa: F401
                                   parse_agent_config)
from scanner.parsing import TooComplex, json_loads, yaml_load_all

CODE_REF = regex.compile(
    r"""os\.environ\s*\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]"""
    r"""|os\.(?:environ\.get|getenv)\s*\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]"""
    r"""|process\.env\.([A-Za-z_][A-Za-z0-9_]*)|process\.env\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]""")
def _ref(n: NameRef, owner: str) -> Ref | None:
    if n.kind == "env-ref":
        return Ref(n.name, "env", owner)
    if n.kind == "input" and n.owner:
        return Ref(n.name, "input", owner, target="password" if n.secret_name else "")
    if n.kind == "credential":
        return Ref(n.name, "n8n", owner)
    if n.kind == "env-set":
        return Ref(n.name, "literal", owner, target=n.name, line=n.line)
    return None


def _refs(names: tuple[NameRef, ...], owner: str | None = None) -> tuple[Ref, ...]:
    out = [r for n in names if (owner is None or n.owner == owner) and (r := _ref(n, n.owner))]
    return tuple(dict.fromkeys(out))


def _parse(path: str, text: str) -> AgentConfig | None:
    try:
        return parse_agent_config(path, text)
    except (AttributeError, TypeError):  # the shared parser expects mappings where it finds other shapes
        return None


def unreadable(path: str, text: str) -> str | None:
    """Why a file named like a config cannot be read as one (it does not parse as JSON / YAML, or
    its `services:` is no mapping), or None when it parses and simply declares nothing: an
    agent that runs an unreadable config must block, never read as "it references nothing"."""
    try:
        docs = [json_loads(text)] if path.endswith(".json") else yaml_load_all(text)
    except (ValueError, yaml.YAMLError) as exc:
        return f"not valid {'JSON' if path.endswith('.json') else 'YAML'}" + (
            f" ({exc})" if isinstance(exc, TooComplex) else "")
    if any(isinstance(d, dict) and "services" in d and not isinstance(d["services"], dict) for d in docs):
        return "unexpected structure: `services` is not a mapping"
    return None


def dotenv_names(text: str, path: str = ".env") -> list[tuple[int, str]]:
    """(line, NAME) of every `NAME=value` line with a literal value."""
    cfg = _parse(path if is_dotenv(path) else ".env", text)
    return [(n.line, n.name) for n in cfg.names if n.kind == "env-set" and n.line] if cfg else []


def parse_mcp(text: str, repo: str, path: str) -> list[WorkflowFile]:
    """One `WorkflowFile` per MCP server (`mcpServers` or VS Code's `servers`)."""
    cfg = _parse(path if PurePosixPath(path).name.lower() in MCP_NAMES else "mcp.json", text)
    if cfg is None:
        return [WorkflowFile(WorkflowRef("mcp", repo, path), error="not valid JSON", root=False)]
    return [WorkflowFile(WorkflowRef("mcp", repo, path, c.name), _refs(cfg.names, c.name), root=False)
            for c in cfg.components if c.kind == "mcp-server"]


def dotenv_refs(text: str, path: str, owner: str = "") -> list[Ref]:
    """A dotenv file given to a process: each `NAME=value` is a value sitting at its line (a
    `literal`, a credential only where the scan found one), each `NAME=${X}` a reference to X."""
    cfg = _parse(path if is_dotenv(path) else ".env", text)
    out: list[Ref] = []
    for n in cfg.names if cfg else ():
        if n.kind == "env-set" and n.line:
            out.append(Ref(n.name, "literal", owner, target=n.name, line=n.line, file=path))
        elif n.kind == "env-ref":
            out.append(Ref(n.name, "env", owner))
    return out


def _near(path: str, rel: str) -> str:
    return posixpath.normpath(str(PurePosixPath(path).parent / rel)).removeprefix("./")


def parse_compose(text: str, repo: str, path: str, files: dict[str, str] | None = None) -> list[WorkflowFile]:
    """One node per service: its `environment:` (a `${X}` is read from the `.env` next to the
    compose file when that file sets X) and every `env_file:` (relative to the compose file; one
    that is not among the scanned files is an unresolved reference)."""
    cfg = _parse(path, text)
    if cfg is None:
        why = unreadable(path, text)
        return [WorkflowFile(WorkflowRef("compose", repo, path), error=why, root=False)] if why else []
    files = files or {}
    dotenv_path = _near(path, ".env")
    dotenv = {r.name: r for r in dotenv_refs(files[dotenv_path], dotenv_path)} if dotenv_path in files else {}
    out = []
    for c in cfg.components:
        if c.kind != "compose-service":
            continue
        refs: list[Ref] = []
        for n in cfg.names:
            if n.owner != c.name:
                continue
            if n.kind == "env-file":
                target = _near(path, n.name)
                refs += dotenv_refs(files[target], target, c.name) if target in files else \
                    [Ref(target, "file", c.name)]
            elif n.kind == "env-ref" and n.name in dotenv and dotenv[n.name].kind == "literal":
                refs.append(dataclasses.replace(dotenv[n.name], job=c.name))
            elif (r := _ref(n, n.owner)):
                refs.append(r)
        out.append(WorkflowFile(WorkflowRef("compose", repo, path, c.name), tuple(dict.fromkeys(refs)), root=False))
    return out


def parse_langgraph(text: str, repo: str, path: str, files: dict[str, str]) -> WorkflowFile:
    """`langgraph.json`: `env` is a dotenv path (its lines are values, its `${X}` references) or
    an inline mapping."""
    ref = WorkflowRef("langgraph", repo, path)
    cfg = _parse("langgraph.json", text)
    if cfg is None:
        return WorkflowFile(ref, error="not valid JSON", root=False)
    refs = list(_refs(cfg.names))
    for r in list(refs):
        target = _near(path, r.name)
        if r.kind == "env" and target in files:  # `"env": ".env"` names a dotenv file
            refs.remove(r)
            refs += dotenv_refs(files[target], target)
        elif r.kind == "env" and not r.name.isidentifier():  # a dotenv file the scan did not read
            refs.remove(r)
            refs.append(Ref(target, "file"))
    return WorkflowFile(ref, tuple(dict.fromkeys(refs)), root=False)


def parse_named_file(kind: str, text: str, repo: str, path: str) -> WorkflowFile | None:
    """CrewAI and n8n files: one node per file; None when the file declares nothing."""
    cfg = _parse(path, text)
    if cfg is None and (why := unreadable(path, text)):
        return WorkflowFile(WorkflowRef(kind, repo, path), error=why, root=False)
    if cfg is None or not cfg.components:
        return None
    return WorkflowFile(WorkflowRef(kind, repo, path), _refs(cfg.names), root=False)


def parse_n8n(text: str, repo: str, path: str) -> WorkflowFile:
    wf = parse_named_file("n8n", text, repo, path if path.endswith(".json") else "workflow.json")
    return wf or WorkflowFile(WorkflowRef("n8n", repo, path), root=False)


def parse_code(text: str, repo: str, path: str) -> WorkflowFile | None:
    names = [next(g for g in m if g) for m in CODE_REF.findall(text)]
    if not names:
        return None
    return WorkflowFile(WorkflowRef("code", repo, path), tuple(dict.fromkeys(Ref(n, "env") for n in names)),
                        root=False)
