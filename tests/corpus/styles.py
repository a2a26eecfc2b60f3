"""File styles of the labelled corpus: each renders (name, value) assignments into the text of one
kind of file (.env, Python, JS, notebook, YAML, Kubernetes Secret, tfvars, docker-compose, MCP
config, shell, Markdown, minified JS, HTTP log with basic auth, URL-encoded form, Terraform,
Helm values, notebooks with execute_result outputs, JSON inside YAML, CRLF ticket exports). A style says
which values it can carry: a multi-line JSON document cannot go into a JSON string, for example."""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Style:
    name: str
    """Style name (also the file's suffix family)."""
    filename: str
    """File name pattern; `{n}` is a counter."""
    render: Callable[[list[Pairs], random.Random], str]
    """Renders several samples' assignments into one file."""
    carries: Callable[[Pairs, bool], bool]
    """(assignments, value is prefixed) -> can this style hold them?"""


def _multi(v: str) -> bool:
    return "\n" in v


def _json_safe(pairs: Pairs, _prefixed: bool) -> bool:
    # a value with newlines AND backslashes (a JSON key file) would be escaped twice
    return not any(_multi(v) and "\\" in v for _, v in pairs)


def _single_line(pairs: Pairs, _prefixed: bool) -> bool:
    return not any(_multi(v) for _, v in pairs)


def _any(_pairs: Pairs, _prefixed: bool) -> bool:
    return True


def _env(groups: list[Pairs], rng: random.Random) -> str:
    out = ["# local settings, do not commit", "LOG_LEVEL=info", "PORT=8080"]
    for pairs in groups:
        out += [f'{k}="{v}"' if _multi(v) else f"{k}={v}" for k, v in pairs]
        out.append(f"FEATURE_{rng.randrange(100)}=true")
    return "\n".join(out) + "\n"


def _python(groups: list[Pairs], rng: random.Random) -> str:
    out = ["import os", "from agent import Agent", "", "MODEL = \"gpt-4o-mini\""]
    for pairs in groups:
        for k, v in pairs:
            if _multi(v):
                out.append(f'{k} = """{v}"""')
            elif rng.random() < 0.3:
                out.append(f'os.environ["{k}"] = "{v}"')
            else:
                out.append(f'{k} = "{v}"')
    out += ["", "agent = Agent(model=MODEL, timeout=30)", "agent.run()"]
    return "\n".join(out) + "\n"


def _js(groups: list[Pairs], rng: random.Random) -> str:
    out = ["import { createAgent } from './agent.js';", "", "export const config = {"]
    for pairs in groups:
        out += [f"  {k}: `{v}`," if _multi(v) else f"  {k}: '{v}'," for k, v in pairs]
    out += ["  retries: 3,", "};", "", "createAgent(config).start();"]
    return "\n".join(out) + "\n"


def _notebook(groups: list[Pairs], rng: random.Random) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Exploration\n"]}]
    for pairs in groups:
        cells.append({"cell_type": "code", "execution_count": rng.randrange(1, 40), "metadata": {},
                      "source": ["import os\n", "print(dict(os.environ))"],
                      "outputs": [{"name": "stdout", "output_type": "stream",
                                   "text": [f"{k}={v}\n" for k, v in pairs]}]})
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def _yaml_value(v: str, indent: int) -> str:
    if not _multi(v):
        return f'"{v}"'
    if "\\" in v or not v.startswith("-----"):
        pad = " " * (indent + 2)
        return "|\n" + "\n".join(pad + line for line in v.splitlines())
    return json.dumps(v)


def _yaml(groups: list[Pairs], rng: random.Random) -> str:
    out = ["name: support-agent", "runtime: python3.12", "env:"]
    for pairs in groups:
        out += [f"  {k}: {_yaml_value(v, 2)}" for k, v in pairs]
    out += ["resources:", "  memory: 512Mi"]
    return "\n".join(out) + "\n"


def _k8s(groups: list[Pairs], rng: random.Random) -> str:
    out = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: agent-secrets-{rng.randrange(99)}",
           "type: Opaque", "data:"]
    for pairs in groups:
        out += [f"  {k}: {base64.b64encode(v.encode()).decode()}" for k, v in pairs]
    return "\n".join(out) + "\n"


def _tfvars(groups: list[Pairs], rng: random.Random) -> str:
    out = ['region = "eu-west-1"', "replicas = 2"]
    for pairs in groups:
        for k, v in pairs:
            out.append(f"{k.lower()} = <<EOT\n{v}\nEOT" if _multi(v) else f'{k.lower()} = "{v}"')
    return "\n".join(out) + "\n"


def _compose(groups: list[Pairs], rng: random.Random) -> str:
    out = ["services:", "  agent:", "    image: ghcr.io/acme/agent:1.4", "    environment:"]
    for pairs in groups:
        out += [f"      {k}: {_yaml_value(v, 6)}" for k, v in pairs]
    out += ["    ports:", "      - \"8080:8080\""]
    return "\n".join(out) + "\n"


def _mcp(groups: list[Pairs], rng: random.Random) -> str:
    servers = {f"server{i}": {"command": "npx", "args": ["-y", f"@acme/mcp-{i}"], "env": dict(pairs)}
               for i, pairs in enumerate(groups)}
    return json.dumps({"mcpServers": servers}, indent=2) + "\n"


def _shell(groups: list[Pairs], rng: random.Random) -> str:
    out = ["#!/usr/bin/env bash", "set -euo pipefail"]
    for pairs in groups:
        for k, v in pairs:
            out.append(f"export {k}=\"$(cat <<'EOF'\n{v}\nEOF\n)\"" if _multi(v) else f"export {k}='{v}'")
    out += ["python -m agent --serve"]
    return "\n".join(out) + "\n"


def _markdown(groups: list[Pairs], rng: random.Random) -> str:
    out = ["# Setting up the agent", "", "Copy these into your shell before running:", ""]
    for pairs in groups:
        out += ["```bash", *(f"{k}={v}" for k, v in pairs), "```", "", "Then run `make dev`.", ""]
    return "\n".join(out)


def _minified(groups: list[Pairs], rng: random.Random) -> str:
    junk = lambda n: ";".join(f"var {rng.choice(string.ascii_lowercase)}{i}=function(t){{return t*{i}+"
                              f"{rng.randrange(999)}}}" for i in range(n))
    parts = [junk(300)]
    for pairs in groups:
        parts.append("var cfg={" + ",".join(f"{k}:{json.dumps(v)}" for k, v in pairs) + "}")
        parts.append(junk(200))
    return ";".join(parts) + "\n"


def _basic_auth(groups: list[Pairs], rng: random.Random) -> str:
    out = ["# captured requests (debug log)"]
    for pairs in groups:
        for _k, v in pairs:
            cred = base64.b64encode(f"x-access-token:{v}".encode()).decode()
            out += [f"GET /api/v1/items?page={rng.randrange(9)} HTTP/1.1", "Host: api.internal",
                    f"Authorization: Basic {cred}", ""]
    return "\n".join(out)


def _form(groups: list[Pairs], rng: random.Random) -> str:
    out = ["# access log"]
    for pairs in groups:
        body = "&".join(f"{k.lower()}={quote(v, safe='')}" for k, v in pairs)
        out.append(f'10.0.0.{rng.randrange(255)} - - "POST /configure HTTP/1.1" 200 body="{body}"')
    return "\n".join(out) + "\n"


def _terraform(groups: list[Pairs], rng: random.Random) -> str:
    out = ['terraform {', '  required_version = ">= 1.5"', '}', '', 'provider "aws" {',
           '  region = "eu-west-1"', '}', '']
    for i, pairs in enumerate(groups):
        out += [f'resource "acme_agent" "agent_{i}" {{', f'  name    = "agent-{rng.randrange(99)}"']
        for k, v in pairs:
            out.append(f"  {k.lower()} = <<-EOT\n{v}\n  EOT" if _multi(v) else f'  {k.lower()} = "{v}"')
        out += ["}", "", f'variable "{pairs[0][0].lower()}_default" {{', '  type = string',
                '  sensitive = true', "}", ""]
    return "\n".join(out)


def _helm(groups: list[Pairs], rng: random.Random) -> str:
    out = ["replicaCount: 2", "image:", "  repository: ghcr.io/acme/agent", '  tag: "1.4.2"',
           "agent:", "  config:", "    logLevel: info", "  env:"]
    for pairs in groups:
        out += [f"    {k}: {_yaml_value(v, 4)}" for k, v in pairs]
    out += ["  secrets:", '    existingSecret: ""', "resources:", "  limits:", "    memory: 1Gi"]
    return "\n".join(out) + "\n"


def _notebook_result(groups: list[Pairs], rng: random.Random) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Debugging the client\n"]}]
    for pairs in groups:
        shown = repr({k: v for k, v in pairs})
        cells.append({"cell_type": "code", "execution_count": rng.randrange(1, 40), "metadata": {},
                      "source": ["settings = load_settings()\n", "settings"],
                      "outputs": [{"output_type": "execute_result", "execution_count": 3, "metadata": {},
                                   "data": {"text/plain": [shown]}}]})
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


def _json_in_yaml(groups: list[Pairs], rng: random.Random) -> str:
    out = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: agent-config-{rng.randrange(99)}",
           "data:"]
    for i, pairs in enumerate(groups):
        doc = json.dumps({"mcpServers": {f"tool{i}": {"command": "npx", "env": dict(pairs)}}}, indent=2)
        if rng.random() < 0.5:
            out += [f"  mcp-{i}.json: |", *("    " + line for line in doc.splitlines())]
        else:
            out.append(f"  MCP_CONFIG_{i}: '{json.dumps(dict(pairs))}'")
    return "\n".join(out) + "\n"


def _crlf_ticket(groups: list[Pairs], rng: random.Random) -> str:
    out = [f"Ticket: SUP-{rng.randrange(1000, 9999)}", "Reporter: jdoe", "Status: Open", "",
           "Description:", "The agent fails to start in staging. Settings pasted below.", ""]
    for pairs in groups:
        out += [f"{k}={v}" for k, v in pairs] + ["", "-- comment by ops --", "Restarted, no change.", ""]
    return "\r\n".join("\r\n".join(line.split("\n")) for line in out) + "\r\n"


def _no_quotes(pairs: Pairs, prefixed: bool) -> bool:
    return _json_safe(pairs, prefixed) and not any("'" in v for _, v in pairs)


def _repr_safe(pairs: Pairs, prefixed: bool) -> bool:
    # a repr inside JSON escapes a newline twice (`\\n`): multi-line values stay out
    return _single_line(pairs, prefixed) and _no_quotes(pairs, prefixed)


def _urlsafe(pairs: Pairs, prefixed: bool) -> bool:
    ok = set(string.ascii_letters + string.digits + "+/=_.-~")
    return all(set(v) <= ok for _, v in pairs)


STYLES: tuple[Style, ...] = (
    Style("env", ".env.{n}", _env, _any),
    Style("python", "settings_{n}.py", _python, _any),
    Style("js", "config_{n}.js", _js, _any),
    Style("notebook", "explore_{n}.ipynb", _notebook, _single_line),
    Style("yaml", "agent_{n}.yaml", _yaml, _any),
    Style("k8s", "secret_{n}.yaml", _k8s, _any),
    Style("tfvars", "prod_{n}.tfvars", _tfvars, _any),
    Style("compose", "docker-compose.{n}.yml", _compose, _any),
    Style("mcp", "mcp_{n}.json", _mcp, _json_safe),
    Style("shell", "deploy_{n}.sh", _shell, _any),
    Style("markdown", "SETUP_{n}.md", _markdown, _any),
    Style("minified", "bundle_{n}.min.js", _minified, _json_safe),
    Style("basic-auth", "requests_{n}.log", _basic_auth, lambda p, pre: pre and len(p) == 1 and _single_line(p, pre)),
    Style("form", "access_{n}.log", _form, _urlsafe),
    Style("terraform", "main_{n}.tf", _terraform, _any),
    Style("helm", "values-{n}.yaml", _helm, _any),
    Style("notebook-result", "debug_{n}.ipynb", _notebook_result, _repr_safe),
    Style("json-in-yaml", "configmap_{n}.yaml", _json_in_yaml, _no_quotes),
    Style("crlf-ticket", "SUP-{n}.txt", _crlf_ticket, _any),
)
