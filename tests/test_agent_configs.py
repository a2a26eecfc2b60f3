"""parse_agent_config: what MCP, LangGraph, CrewAI, n8n, compose, k8s and .env files name."""

from __future__ import annotations

import json

import pytest

from scanner.agent_configs import Component, NameRef, parse_agent_config


def test_claude_desktop_mcp_servers_and_env():
    """Servers, their env blocks (literal → env-set, reference → env-pass + env-ref) and refs in args."""
    text = json.dumps({"mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_literal_value_here",
                           "GITHUB_HOST": "${env:GH_HOST}"}},
        "fs": {"command": "mcp-fs", "args": ["--root", "${HOME}/work"]}}}, indent=2)
    cfg = parse_agent_config("/Users/a/Library/claude_desktop_config.json", text)
    assert cfg is not None and cfg.format == "mcp"
    assert cfg.components == (
        Component("mcp-server", "github", "/Users/a/Library/claude_desktop_config.json",
                  ("GITHUB_HOST", "GITHUB_PERSONAL_ACCESS_TOKEN"), (("command", "npx"),)),
        Component("mcp-server", "fs", "/Users/a/Library/claude_desktop_config.json", (),
                  (("command", "mcp-fs"),)))
    got = {(n.kind, n.name, n.owner, n.secret_name) for n in cfg.names}
    assert got == {("env-set", "GITHUB_PERSONAL_ACCESS_TOKEN", "github", True),
                   ("env-pass", "GITHUB_HOST", "github", False),
                   ("env-ref", "GH_HOST", "github", False),
                   ("env-ref", "HOME", "fs", False)}
    line = next(n.line for n in cfg.names if n.name == "GITHUB_PERSONAL_ACCESS_TOKEN")
    assert text.splitlines()[line - 1].strip().startswith('"GITHUB_PERSONAL_ACCESS_TOKEN"')


def test_vscode_servers_and_inputs():
    """VS Code `servers` + `inputs`: `${input:X}` references and password inputs are recorded."""
    text = json.dumps({"inputs": [{"type": "promptString", "id": "pg-conn", "password": True}],
                       "servers": {"db": {"type": "stdio", "command": "pg-mcp",
                                          "env": {"PG_URL": "${input:pg-conn}"}}}})
    cfg = parse_agent_config(".vscode/mcp.json", text)
    assert [c.name for c in cfg.components] == ["db"]
    assert {(n.kind, n.name, n.owner) for n in cfg.names} == {
        ("env-pass", "PG_URL", "db"), ("input", "pg-conn", "db"), ("input", "pg-conn", "")}
    assert any(n.kind == "input" and n.secret_name for n in cfg.names)


def test_langgraph_n8n_crewai():
    """LangGraph graphs + env map, n8n nodes with credentials and $env refs, CrewAI agents."""
    lg = parse_agent_config("langgraph.json", json.dumps(
        {"graphs": {"support": "./agent.py:graph"}, "env": {"OPENAI_API_KEY": "${OPENAI_API_KEY}"}}))
    assert lg.components == (Component("langgraph-graph", "support", "langgraph.json",
                                       detail=(("entry", "./agent.py:graph"),)),)
    assert {(n.kind, n.name) for n in lg.names} == {("env-pass", "OPENAI_API_KEY"),
                                                     ("env-ref", "OPENAI_API_KEY")}
    n8n = parse_agent_config("workflows/triage.json", json.dumps({"name": "triage", "nodes": [
        {"name": "Ask GPT", "type": "n8n-nodes-base.openAi",
         "credentials": {"openAiApi": {"id": "7", "name": "OpenAI prod"}},
         "parameters": {"url": "={{ $env.TRIAGE_URL }}", "token": "={{ $env['SLACK_TOKEN'] }}"}}],
        "connections": {}}))
    assert n8n.format == "n8n" and n8n.components[0].env == ("openAiApi",)
    assert {(n.kind, n.name, n.owner) for n in n8n.names} == {
        ("credential", "openAiApi:OpenAI prod", "Ask GPT"), ("env-ref", "TRIAGE_URL", "Ask GPT"),
        ("env-ref", "SLACK_TOKEN", "Ask GPT")}
    crew = parse_agent_config("src/crew/config/agents.yaml",
                              "researcher:\n  role: Researcher\n  llm: openai/gpt-4o\n"
                              "  tools: [serper]\n  goal: find ${TOPIC}\n")
    assert crew.components[0].kind == "crewai-agent"
    assert dict(crew.components[0].detail) == {"llm": "openai/gpt-4o", "role": "Researcher",
                                               "tools": "serper"}
    assert crew.names == (NameRef("env-ref", "TOPIC", "src/crew/config/agents.yaml", "", 5),)


def test_compose_k8s_dotenv_and_unknown():
    """Compose services with env names, k8s Secret keys, .env keys; other or broken files → None."""
    compose = parse_agent_config("docker-compose.yml", "services:\n  api:\n    environment:\n"
                                 "      - OPENAI_API_KEY=${OPENAI_API_KEY}\n      - PORT=80\n")
    assert compose.components == (Component("compose-service", "api", "docker-compose.yml",
                                            ("OPENAI_API_KEY", "PORT")),)
    k8s = parse_agent_config("k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n"
                             "  name: agent\ndata:\n  HF_TOKEN: aGZfeA==\n")
    assert k8s.components[0].env == ("HF_TOKEN",)
    assert k8s.names == (NameRef("env-set", "HF_TOKEN", "k8s/secret.yaml", "agent", None, True),)
    env = parse_agent_config(".env", "# x\nSLACK_BOT_TOKEN=xoxb-1\nEMPTY=\n")
    assert [(n.kind, n.name, n.line) for n in env.names] == [("env-set", "SLACK_BOT_TOKEN", 2),
                                                             ("env-pass", "EMPTY", 3)]
    assert parse_agent_config("README.md", "# hi") is None
    assert parse_agent_config(".mcp.json", "{broken") is None
    assert parse_agent_config("docker-compose.yml", "a: [") is None


@pytest.mark.parametrize("name", [".mcp.json", "claude_desktop_config.json", ".vscode/mcp.json",
                                  "langgraph.json"])
@pytest.mark.parametrize("text", ['{"mcpServers": 1}', "[1, 2]", "null", '{"graphs": 3}',
                                  '{"mcpServers": {"a": 1}}'])
def test_foreign_shapes_name_nothing_and_never_raise(name, text):
    config = parse_agent_config(name, text)
    assert config is None or (not config.names and not config.components)
