"""The structured-config pass, run by the pipeline after the engine on every chunk: files whose
format says "this value is a secret" give matches the rules alone would miss.

Takes a chunk, the engine and the engine's matches; gives extra `Match`es attributed to the
original line:
- Kubernetes `Secret` manifests (multi-document YAML, `List` items as `kubectl get -o yaml|json`
  writes them, JSON files with `secret` in their name): `data:` values are base64-decoded and scanned
  with the rules; both `data` and `stringData` values under a secret-looking key are declared
  secrets (see `scanner.declared`).
- `.env` files (`KEY=value`, `export KEY=value`, quoted), docker-compose `environment:` (map or
  `KEY=value` list), MCP configs (`mcpServers.<name>.env`, VS Code `servers.<name>.env`, the
  servers' `headers` and `args`: `Authorization: Bearer X`, `--api-key X`) and
  LangGraph `langgraph.json` `env` maps: a secret-looking name with a literal value is declared.
- Named values (`Chunk.key`: vault keys, CI variables): the whole value, under its name.
- Bearer headers in any JSON / YAML document and call arguments in code (`scanner.bindings`).
A value a rule already matched is left to the rule. Malformed files give nothing here (the raw
text was scanned anyway)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Protocol

import yaml

from scanner.bindings import (CODE_SUFFIXES, NOT_PARSED, SPACE, call_keys, call_matches, first_matches,
                              has_bearer, header_matches, line_spans)
from scanner.declared import covered, declared_match
from scanner.model import Chunk, Match
from scanner.parsing import TooComplex, json_loads, yaml_compose_all

MAX_STRUCTURED = 5 * 1024 * 1024
# cheap byte tests before any YAML parsing: most YAML is neither a Secret nor a compose file
_K8S_SECRET = re.compile(rb"(?m)^\s*kind:\s*[\"']?Secret[\"']?\s*$")
_K8S_JSON = re.compile(rb'"kind"\s*:\s*"Secret"')
_COMPOSE_ENV = re.compile(rb"(?m)^services:\s*$")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: same nodes, marks
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".tmpl", ".dist", ".defaults")
MCP_FILES = {"claude_desktop_config.json", "mcp.json", ".mcp.json", "langgraph.json",
             "mcp_settings.json", "cline_mcp_settings.json"}


class Scanner(Protocol):
    def scan(self, data: bytes) -> list[Match]: ...

    def refuses(self, value: str) -> bool: ...


def _kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(TEMPLATE_SUFFIXES):
        return ""  # `.env.example` documents names; its values are for the rules alone
    if name == ".env" or name.endswith(".env") or name.startswith(".env."):
        return "env"
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(CODE_SUFFIXES):
        return "code"
    # `kubectl get secret -o json` output is JSON; its name usually says so
    if name in MCP_FILES or (name.endswith(".json") and "secret" in name):
        return "json"
    return "json-doc" if name.endswith(".json") else ""


BINDING_NAMES = {"code": "blob.py", "json-doc": "blob.json"}
"""A file name of each kind only the binding pass reads (a history scan runs that pass on a blob
before it knows the blob's names, under each of these, then keeps the one its name says)."""
YAML_NAME = "blob.yaml"
"""A YAML file name: a history scan runs this pass under it on the blobs it already knows a YAML
name of when it reads them (`GitHistorySource.scan`)."""


def kind_of(path: str) -> str:
    """The kind of file `path` names for this pass (`env`, `yaml`, `json`, `json-doc`, `code`),
    or "" for one it does not read."""
    return _kind(path)


def binding_only(path: str) -> bool:
    """True for the names only the binding pass reads (code, plain JSON)."""
    return _kind(path) in ("code", "json-doc")


def handles(path: str) -> bool:
    """True for the file names this pass reads (sources that scan content without names use it
    to pick what to run it on)."""
    return bool(_kind(path))


def extra_matches(chunk: Chunk, engine: Scanner, matches: list[Match]) -> list[Match]:
    """Matches the structure of the chunk adds to the engine's `matches` (never duplicates them)."""
    if len(chunk.data) > MAX_STRUCTURED:
        return []
    if chunk.key:
        m = declared_match(chunk.key, chunk.data.decode("utf-8", "replace"), strict=False)
        return [m] if m is not None and not covered(m.secret, matches) and not engine.refuses(m.secret) else []
    kind = _kind(chunk.hint)
    out: list[Match] = []
    doc: object = NOT_PARSED  # a JSON document parsed here is not parsed again for its headers
    if kind == "env":
        out = list(_env_file(chunk.data.decode("utf-8", "replace")))
    elif kind == "yaml" and _secret_or_compose(chunk.data):
        out = list(_yaml_docs(chunk.data.decode("utf-8", "replace"), engine))
    elif kind == "json" and b"Secret" in chunk.data and _K8S_JSON.search(chunk.data):
        out = list(_yaml_docs(chunk.data.decode("utf-8", "replace"), engine))  # JSON is YAML
    elif kind == "json" and (b"env" in chunk.data or b"headers" in chunk.data or b"args" in chunk.data):
        doc = _json_doc(chunk.data.decode("utf-8", "replace"))
        out = list(_json_env(chunk.data.decode("utf-8", "replace"), doc))
    # values named by their surroundings: Bearer headers, call arguments (`scanner.bindings`)
    bound: list[Match] = []
    if kind in ("json", "json-doc", "yaml") and has_bearer(chunk.data):
        if doc is not _MALFORMED:
            bound = list(header_matches(chunk.data.decode("utf-8", "replace"), kind != "yaml", engine, doc))
    elif kind == "code" and (keys := call_keys(chunk.data)):
        text = chunk.data.decode("utf-8", "replace")
        bound = list(call_matches(text, engine, line_spans(chunk.data, text, keys)))
    out += [m for m in bound if not covered(m.secret, matches + out)]
    # a value a rule refuses on its own merits (a token with a wrong checksum) is no secret either
    return [m for m in out if m.rule_id != "declared.secret"
            or not (covered(m.secret, matches) or engine.refuses(m.secret))]


def _secret_or_compose(data: bytes) -> bool:
    """A YAML text with a `kind: Secret` line or a top-level `services:` (one Hyperscan pass that
    stops at the first; `bytes.find` over a spec of megabytes costs more than its header pass)."""
    found = first_matches("k8s-compose", _YAML_TESTS, data, 1)
    if found is None:
        return bool((b"Secret" in data and b"kind:" in data and _K8S_SECRET.search(data))
                    or (b"services:" in data and _COMPOSE_ENV.search(data)))
    return bool(found)


_YAML_TESTS = [(rb"^" + SPACE + rb"*kind:" + SPACE + rb"""*["']?Secret["']?""" + SPACE + rb"*$", "m"),
               (rb"^services:" + SPACE + rb"*$", "m")]
"""`_K8S_SECRET` and `_COMPOSE_ENV`, for Hyperscan."""


def _env_file(text: str) -> Iterator[Match]:
    pos = 0
    lines = text.splitlines(keepends=True)
    skip_to = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        body = line.strip()
        if lineno <= skip_to:
            pass  # continuation of a multi-line quoted value, read with its first line
        elif body and not body.startswith("#") and "=" in body:
            key, _, value = body.removeprefix("export ").partition("=")
            value = value.strip()
            quote = value[:1]
            if quote in ("'", '"') and (len(value) < 2 or not value.endswith(quote)):
                # a quoted value spanning lines (a PEM key): up to the line that closes it
                for end in range(lineno, len(lines)):
                    if lines[end].rstrip("\r\n").endswith(quote):
                        value = value + "\n" + "".join(lines[lineno:end + 1]).rstrip("\r\n")
                        skip_to = end + 1
                        break
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            elif " #" in value:
                value = value.split(" #", 1)[0].rstrip()
            m = declared_match(key.strip(), value, start=pos + max(line.find(value.split("\n", 1)[0]), 0),
                               line=lineno)
            if m is not None:
                yield m
        pos += len(raw)


def _yaml_docs(text: str, engine: Scanner) -> Iterator[Match]:
    try:
        docs = yaml_compose_all(text, _LOADER)
    except yaml.YAMLError:
        return
    for doc in _with_list_items(docs):
        top = _mapping(doc)
        kind = top.get("kind")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "Secret":
            yield from _k8s_secret(top, engine)
        services = top.get("services")
        if isinstance(services, yaml.MappingNode):
            for svc in _mapping(services).values():
                if isinstance(svc, yaml.MappingNode):
                    env = _mapping(svc).get("environment")
                    if env is not None:
                        yield from _env_node(env)


def _with_list_items(docs: list[yaml.Node]) -> Iterator[yaml.MappingNode]:
    """Mapping documents, and the items of a Kubernetes `List` (`kubectl get -o yaml` output)."""
    for doc in docs:
        if not isinstance(doc, yaml.MappingNode):
            continue
        yield doc
        items = _mapping(doc).get("items")
        if isinstance(items, yaml.SequenceNode):
            yield from (i for i in items.value if isinstance(i, yaml.MappingNode))


def _k8s_secret(top: dict[str, yaml.Node], engine: Scanner) -> Iterator[Match]:
    data = top.get("data")
    if isinstance(data, yaml.MappingNode):
        for key, node in _pairs(data):
            if not isinstance(node, yaml.ScalarNode):
                continue
            try:
                decoded = base64.b64decode("".join(node.value.split()), validate=True)
            except (binascii.Error, ValueError):
                continue
            line = node.start_mark.line + 1
            start, end = node.start_mark.index, node.end_mark.index
            found = engine.scan(decoded)
            for m in found:
                yield Match(m.rule_id, m.provider, m.secret, start, end, line, m.captures,
                            m.lifetime_hint)
            value = decoded.decode("utf-8", "replace")
            d = declared_match(key, value, start=start, line=line)
            if d is not None and not covered(d.secret, found):
                yield Match(d.rule_id, d.provider, d.secret, start, end, line)
    string_data = top.get("stringData")
    if string_data is not None:
        yield from _env_node(string_data)


def _env_node(node: yaml.Node) -> Iterator[Match]:
    """`KEY: value` pairs of a mapping, or `KEY=value` items of a list."""
    if isinstance(node, yaml.MappingNode):
        for key, value in _pairs(node):
            if isinstance(value, yaml.ScalarNode):
                m = declared_match(key, value.value, start=value.start_mark.index,
                                   line=value.start_mark.line + 1)
                if m is not None:
                    yield m
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode) and "=" in item.value:
                key, _, value = item.value.partition("=")
                m = declared_match(key, value, start=item.start_mark.index,
                                   line=item.start_mark.line + 1)
                if m is not None:
                    yield m


def _pairs(node: yaml.MappingNode) -> Iterator[tuple[str, yaml.Node]]:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode):
            yield k.value, v


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return dict(_pairs(node))


_AUTH_SCHEME = re.compile(r"^\s*(?:Authorization\s*:\s*)?(?:Bearer|Token|token)\s+(\S+)\s*$")
_HEADER_ARG = re.compile(r"^\s*([A-Za-z][\w\-]*)\s*:\s*(.+)$")
_OPTION = re.compile(r"^--?([A-Za-z][\w\-]*)(?:=(.*))?$")


_MALFORMED = object()


def _json_doc(text: str) -> object:
    """The parsed JSON document, or _MALFORMED (a document over a parsing bound raises)."""
    try:
        return json_loads(text)
    except TooComplex:
        raise
    except ValueError:
        return _MALFORMED


def _json_env(text: str, doc: object) -> Iterator[Match]:
    """`env` maps of MCP servers (`mcpServers` / `servers`) and of `langgraph.json`, the servers'
    `headers` (an `Authorization: Bearer` value is a token) and `args` (`--header "Authorization:
    Bearer X"`, `--api-key X`, `--token=X`, `-e KEY=VALUE`), in `doc` (`_json_doc(text)`)."""
    if not isinstance(doc, dict):
        return
    named: list[tuple[str, object]] = [("", doc.get("env"))]
    for group in ("mcpServers", "servers"):
        servers = doc.get(group)
        if isinstance(servers, dict):
            for name, srv in servers.items():
                if isinstance(srv, dict):
                    named += [(str(name), srv.get("env")), (str(name), srv.get("headers"))]
                    named += [(str(name), dict(_args_pairs(srv.get("args"))))]
    for server, env in named:
        if not isinstance(env, dict):
            continue
        for key, value in env.items():
            if not isinstance(value, str):
                continue
            bearer = _AUTH_SCHEME.match(value) if str(key).lower() in ("authorization", "") else None
            name, secret = (f"{server or 'server'}_token", bearer.group(1)) if bearer else (str(key), value)
            m = declared_match(name, secret)
            if m is not None:
                yield _placed(m, text, str(key) or secret)


def _args_pairs(args: object) -> Iterator[tuple[str, str]]:
    """(name, value) pairs a command line passes: options with a value, header arguments,
    `KEY=VALUE` environment items. An `Authorization` header keeps its scheme (read above)."""
    if not isinstance(args, list):
        return
    items = [a for a in args if isinstance(a, str)]
    for i, arg in enumerate(items):
        header = _HEADER_ARG.match(arg)
        if header and " " not in header.group(1):
            yield header.group(1), header.group(2).strip()
            continue
        opt = _OPTION.match(arg)
        if opt:
            value = opt.group(2)
            if value is None and i + 1 < len(items) and not items[i + 1].startswith("-"):
                value = items[i + 1]
            if value is not None and not _HEADER_ARG.match(value):
                yield opt.group(1), value
        elif "=" in arg and not arg.startswith(("http:", "https:")):
            key, _, value = arg.partition("=")
            yield key, value


def _placed(m: Match, text: str, key: str) -> Match:
    """Put a JSON value's match at the line where it is written (after its key when possible)."""
    encoded = json.dumps(m.secret)[1:-1]
    at = text.find(encoded, max(text.find(json.dumps(key)), 0))
    if at < 0:
        at = max(text.find(encoded), 0)
    return Match(m.rule_id, m.provider, m.secret, at, at + len(encoded), text.count("\n", 0, at) + 1)
