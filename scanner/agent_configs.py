"""What agent and deployment configs NAME, for the graph: a pure parser, no I/O.

`parse_agent_config(path, text)` takes a file's path (its name picks the format) and its text, and
gives an `AgentConfig` (or None for other files / unparsable text) of frozen records:
- `Component`: a thing the file declares: an MCP server (`mcpServers` / VS Code `servers`),
  a LangGraph graph, a CrewAI agent or task, an n8n node, a compose service, a Kubernetes Secret;
  with the env var names it is given.
- `NameRef`: a name the file sets or reads: `env-set` (a key given a literal value), `env-pass`
  (a key set from a reference), `env-ref` (`${X}`, `${env:X}`, `$env.X`, `{{ $env.X }}`), `input`
  (VS Code `${input:X}` / declared `inputs`), `credential` (an n8n node's credential by type:name).
Formats: `claude_desktop_config.json`, `.cursor/mcp.json`, `.vscode/mcp.json`, `.mcp.json`,
`langgraph.json`, CrewAI `agents.yaml` / `tasks.yaml` / `crew.yaml`, n8n workflow JSON (`nodes` +
`connections`), docker-compose files, Kubernetes Secret manifests and `.env` files. Values are never
kept: only names (the secret values themselves are the scanner's business)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import regex
import yaml

from scanner.declared import is_secret_name
from scanner.parsing import json_loads, yaml_load_all

ENV_REF = regex.compile(
    r"\$\{(?:(env|input):)?([A-Za-z_][A-Za-z0-9_.\-]*)(?::-[^}]*)?\}"   # ${X} ${env:X} ${input:X}
    r"|\$env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]\])")  # n8n $env
MCP_NAMES = {"claude_desktop_config.json", "mcp.json", ".mcp.json", "mcp_settings.json",
             "cline_mcp_settings.json"}
CREWAI_NAMES = {"agents.yaml", "agents.yml", "tasks.yaml", "tasks.yml", "crew.yaml", "crew.yml"}


@dataclass(frozen=True, slots=True)
class Component:
    """A thing a config declares."""

    kind: str
    """`mcp-server`, `langgraph-graph`, `crewai-agent`, `crewai-task`, `n8n-node`,
    `compose-service`, `k8s-secret`."""
    name: str
    """Its name in the file (server name, graph id, node name, service, Secret name)."""
    file: str
    """The path it was read from."""
    env: tuple[str, ...] = ()
    """Env var / secret key names given to it, sorted."""
    detail: tuple[tuple[str, str], ...] = ()
    """Other facts (`command`, `url`, `type`, `entry`, `llm`), sorted pairs."""


@dataclass(frozen=True, slots=True)
class NameRef:
    """A name a config sets or reads."""

    kind: str
    """`env-set`, `env-pass`, `env-ref`, `input`, `credential` or `env-file` (a compose
    `env_file:` path, relative to the compose file)."""
    name: str
    """The variable / input / credential name."""
    file: str
    """The path it was read from."""
    owner: str = ""
    """The component it belongs to, when the file says."""
    line: int | None = None
    """1-based line, when known."""
    secret_name: bool = False
    """The name itself says it holds a secret (`scanner.declared.is_secret_name`)."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything one file names."""

    format: str
    """`mcp`, `langgraph`, `crewai`, `n8n`, `compose`, `k8s-secret` or `dotenv`."""
    components: tuple[Component, ...]
    names: tuple[NameRef, ...]


def parse_agent_config(path: str, text: str) -> AgentConfig | None:
    """The records of one file, or None when it is not a known config or does not parse."""
    name = PurePosixPath(path).name.lower()
    try:
        if name in MCP_NAMES:
            return _mcp(path, text)
        if name == "langgraph.json":
            return _langgraph(path, text)
        if name == ".env" or name.endswith(".env") or name.startswith(".env."):
            return _dotenv(path, text)
        if name.endswith(".json") and '"nodes"' in text and '"connections"' in text:
            return _n8n(path, text)
        if name.endswith((".yaml", ".yml")):
            docs = [d for d in yaml_load_all(text) if isinstance(d, dict)]
            if name in CREWAI_NAMES:
                return _crewai(path, text, docs)
            if any(d.get("kind") == "Secret" for d in docs):
                return _k8s(path, docs)
            if "compose" in name and any(isinstance(d.get("services"), dict) for d in docs):
                return _compose(path, text, docs)
    except (ValueError, yaml.YAMLError):
        return None
    except (AttributeError, TypeError, KeyError):
        return None  # parses, but not in the shape this kind of file has: nothing it names
    return None


def _line_of(text: str, needle: str, after: int = 0) -> int | None:
    at = text.find(needle, after)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _refs(value: str, path: str, owner: str, text: str) -> list[NameRef]:
    out = []
    for m in ENV_REF.finditer(value):
        kind = "input" if m.group(1) == "input" else "env-ref"
        name = m.group(2) or m.group(3) or m.group(4)
        out.append(NameRef(kind, name, path, owner, _line_of(text, m.group(0)),
                           is_secret_name(name)))
    return out


def _env_block(env: dict[str, Any], path: str, owner: str, text: str) -> list[NameRef]:
    out: list[NameRef] = []
    for key, value in env.items():
        value = "" if value is None else str(value)
        refs = _refs(value, path, owner, text)
        kind = "env-pass" if refs or not value else "env-set"
        out.append(NameRef(kind, str(key), path, owner, _line_of(text, f'"{key}"') or
                           _line_of(text, f"{key}"), is_secret_name(str(key))))
        out.extend(refs)
    return out


def _mcp(path: str, text: str) -> AgentConfig:
    doc = json_loads(text)
    comps: list[Component] = []
    names: list[NameRef] = []
    for group in ("mcpServers", "servers"):
        servers = doc.get(group) if isinstance(doc, dict) else None
        for sname, spec in (servers or {}).items():
            if not isinstance(spec, dict):
                continue
            env: dict[str, Any] = spec["env"] if isinstance(spec.get("env"), dict) else {}
            detail = {k: str(spec[k]) for k in ("command", "url", "type") if spec.get(k)}
            comps.append(Component("mcp-server", sname, path, tuple(sorted(env)),
                                   tuple(sorted(detail.items()))))
            names.extend(_env_block(env, path, sname, text))
            rest = {k: v for k, v in spec.items() if k != "env"}
            names.extend(_refs(json.dumps(rest), path, sname, text))
    for inp in (doc.get("inputs") or []) if isinstance(doc, dict) else []:
        if isinstance(inp, dict) and inp.get("id"):
            names.append(NameRef("input", str(inp["id"]), path, "", _line_of(text, str(inp["id"])),
                                 bool(inp.get("password")) or is_secret_name(str(inp["id"]))))
    return AgentConfig("mcp", tuple(comps), tuple(dict.fromkeys(names)))


def _langgraph(path: str, text: str) -> AgentConfig:
    doc = json_loads(text)
    comps = [Component("langgraph-graph", gid, path, detail=(("entry", str(entry)),))
             for gid, entry in (doc.get("graphs") or {}).items()]
    env = doc.get("env")
    names = _env_block(env, path, "", text) if isinstance(env, dict) else []
    if isinstance(env, str):
        names.append(NameRef("env-ref", env, path, "", _line_of(text, env)))
    return AgentConfig("langgraph", tuple(comps), tuple(names))


def _dotenv(path: str, text: str) -> AgentConfig:
    names = []
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.strip()
        if body and not body.startswith("#") and "=" in body:
            key, _, value = body.removeprefix("export ").partition("=")
            refs = _refs(value, path, "", text)
            kind = "env-pass" if refs or not value.strip() else "env-set"
            names.append(NameRef(kind, key.strip(), path, "", lineno, is_secret_name(key.strip())))
            names.extend(refs)
    return AgentConfig("dotenv", (), tuple(names))


def _n8n(path: str, text: str) -> AgentConfig:
    doc = json_loads(text)
    comps, names = [], []
    for node in doc.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        nname = str(node.get("name", ""))
        creds = node.get("credentials") or {}
        comps.append(Component("n8n-node", nname, path, tuple(sorted(creds)),
                               (("type", str(node.get("type", ""))),)))
        for ctype, ref in creds.items():
            label = ref.get("name", "") if isinstance(ref, dict) else str(ref)
            names.append(NameRef("credential", f"{ctype}:{label}", path, nname,
                                 _line_of(text, f'"{ctype}"'), True))
        names.extend(_refs(json.dumps(node.get("parameters") or {}), path, nname, text))
    return AgentConfig("n8n", tuple(comps), tuple(names))


def _crewai(path: str, text: str, docs: list[dict[str, Any]]) -> AgentConfig:
    kind = "crewai-task" if PurePosixPath(path).name.startswith("tasks") else "crewai-agent"
    comps = []
    for doc in docs:
        for cname, spec in doc.items():
            if isinstance(spec, dict):
                detail = {k: str(spec[k]) for k in ("llm", "agent", "role") if spec.get(k)}
                if spec.get("tools"):
                    detail["tools"] = ",".join(map(str, spec["tools"]))
                comps.append(Component(kind, str(cname), path, detail=tuple(sorted(detail.items()))))
    return AgentConfig("crewai", tuple(comps), tuple(_refs(text, path, "", text)))


def _k8s(path: str, docs: list[dict[str, Any]]) -> AgentConfig:
    comps = []
    for d in docs:
        if d.get("kind") == "Secret":
            keys = set(d.get("data") or {}) | set(d.get("stringData") or {})
            comps.append(Component("k8s-secret", str((d.get("metadata") or {}).get("name", "")),
                                   path, tuple(sorted(keys)),
                                   (("namespace", str((d.get("metadata") or {}).get("namespace", "default"))),)))
    names = [NameRef("env-set", k, path, c.name, None, is_secret_name(k))
             for c in comps for k in c.env]
    return AgentConfig("k8s-secret", tuple(comps), tuple(names))


def _compose(path: str, text: str, docs: list[dict[str, Any]]) -> AgentConfig:
    comps, names = [], []
    for d in docs:
        for sname, svc in (d.get("services") or {}).items():
            env = svc.get("environment") if isinstance(svc, dict) else None
            if isinstance(env, list):
                env = dict(str(item).partition("=")[::2] for item in env)
            env = env if isinstance(env, dict) else {}
            comps.append(Component("compose-service", str(sname), path, tuple(sorted(env))))
            names.extend(_env_block(env, path, str(sname), text))
            files = svc.get("env_file") if isinstance(svc, dict) else None
            for f in files if isinstance(files, list) else [files] if files else []:
                f = f.get("path") if isinstance(f, dict) else f
                if isinstance(f, str) and f:
                    names.append(NameRef("env-file", f, path, str(sname), _line_of(text, f)))
    return AgentConfig("compose", tuple(comps), tuple(names))


CODE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx")


def config_kind(path: str) -> str | None:
    """Which reader takes this path (selection by name only), or None."""
    p = PurePosixPath(path)
    name = p.name.lower()
    if name in MCP_NAMES:
        return "mcp"
    if name == "langgraph.json":
        return "langgraph"
    if name in CREWAI_NAMES:
        return "crewai"
    if p.suffix == ".json" and ("n8n" in path.lower() or "workflow" in path.lower()):
        return "n8n"
    if p.suffix in (".yml", ".yaml") and "compose" in name:
        return "compose"
    if p.suffix in CODE_SUFFIXES:
        return "code"
    if is_dotenv(path):
        return "dotenv"
    return None


def is_dotenv(path: str) -> bool:
    name = PurePosixPath(path).name
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")
