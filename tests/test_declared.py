"""Declared secrets: key names that say "secret" make a literal value a credential."""

from __future__ import annotations

import json

import pytest

from scanner.declared import declared_match, is_secret_name, provider_from_name
from scanner.pipeline import run_scan


@pytest.mark.parametrize("name", [
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLACK_BOT_TOKEN", "GITHUB_PERSONAL_ACCESS_TOKEN",
    "password", "DB_PASSWORD", "client_secret", "AWS_SECRET_ACCESS_KEY", "openaiApiKey",
    "hf_token", "PRIVATE_KEY", "STRIPE_SECRET", "api-key", "SENTRY_DSN", "SECRET_KEY_BASE",
    "ENCRYPTION_KEY"])
def test_secret_names(name):
    """Names that hold secrets by convention are recognised, whatever their case style."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "LOG_LEVEL", "OPENAI_BASE_URL", "TOKEN_URL", "API_KEY_ID", "SECRET_NAME", "token_type",
    "MODEL", "KEY", "PASSWORD_FILE", "monkey", "tokenizer"])
def test_not_secret_names(name):
    """Names about a secret (its id, file, url) or unrelated names are not secrets."""
    assert not is_secret_name(name)


def test_provider_from_name():
    """The provider is guessed from the name, else `unknown`."""
    assert provider_from_name("OPENAI_API_KEY") == "openai"
    assert provider_from_name("HF_TOKEN") == "huggingface"
    assert provider_from_name("db_password") == "database"
    assert provider_from_name("password") == "unknown"


@pytest.mark.parametrize("value", [
    "", "short", "${OPENAI_API_KEY}", "$OPENAI_API_KEY", "{{ secrets.X }}", "<your-key>",
    "changeme-please", "xxxxxxxxxxxx", "true", "$(cat /run/secrets/key)",
    "vault:secret/data/x#k"])
def test_references_and_placeholders_are_not_secrets(value):
    """References, placeholders and short values never become declared credentials."""
    assert declared_match("OPENAI_API_KEY", value) is None


def test_declared_match_fields(rng):
    """A literal value under a secret name gives a `declared.secret` match placed in its text."""
    value = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(24))
    m = declared_match("DB_PASSWORD", f"  {value} ", start=10, line=4)
    assert m is not None
    assert (m.rule_id, m.provider, m.secret, m.line) == ("declared.secret", "database", value, 4)
    assert (m.start, m.end) == (12, 12 + len(value))


@pytest.mark.parametrize("value", ["TODO: set in prod", "TODO_REPLACE", "changeme", "ChangeMe123",
                                   "<your key>", "xxx", "xxxxxxxx", "replace-me-later", "set-me",
                                   "your-api-key-here", "n/a", "FIXME"])
def test_store_placeholders_under_secret_names_are_not_findings(value, tmp_path):
    """A vault key or CI variable named like a secret but holding a template is not reported,
    through the vault export source and the named-value path CI variables take."""
    from scanner.manifests import extra_matches
    from scanner.model import Chunk, Location

    doc = {"data": {"data": {"OPENAI_API_KEY": value, "DB_PASSWORD": "s3cr3tP@ss-9"},
                    "metadata": {"version": 1}}}
    f = tmp_path / "export.json"
    f.write_text(json.dumps(doc))
    creds = run_scan([f"vault-export:{f}"]).credentials
    assert [c.locations[0].path.rsplit("#", 1)[-1] for c in creds] == ["DB_PASSWORD"]
    from detectors.loader import load_rules
    from scanner.engine import Engine

    chunk = Chunk(value.encode(), (Location("gitlab-variable", "acme/x", "OPENAI_API_KEY"),),
                  key="OPENAI_API_KEY")
    assert extra_matches(chunk, Engine(load_rules()), []) == []
