"""Declared secrets: values under secret-sounding names become credentials without a rule."""

from __future__ import annotations

import pytest

from scanner.declared import (
    DECLARED_RULE_ID,
    declared_match,
    is_secret_name,
    with_declared,
)
from scanner.model import Chunk, Location, Match

VALUE = "q7Vd2mXk9pLr4TzW8bNc"


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "DEPLOY_TOKEN", "DB_PASSWORD", "password",
                                  "AWS_SECRET_ACCESS_KEY", "CLIENT_SECRET", "ADMIN_PASS", "apikey",
                                  "github-token", "smtp.passwd"])
def test_secret_names(name):
    """Names that declare a secret are recognised."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "LOG_LEVEL", "API_URL", "TOKEN_URL", "SECRET_FILE",
                                  "DB_PASSWORD_FILE", "TOKENIZER_MODEL", "KEYBOARD", "AUTHOR",
                                  "PASSWORD_EXPIRY", ""])
def test_not_secret_names(name):
    """Names of settings about secrets (URLs, files, expiry) or of nothing secret are not."""
    assert not is_secret_name(name)


@pytest.mark.parametrize("value", ["", "short", "${{ secrets.OPENAI_API_KEY }}", "$OTHER_TOKEN",
                                   "${DEPLOY_TOKEN}", "changeme-changeme", "xxxxxxxxxxxx",
                                   "your_api_key_here", "line one\nline two value"])
def test_values_that_are_not_secrets(value):
    """References, placeholders, short and multi-line values are not declared secrets."""
    assert declared_match("DEPLOY_TOKEN", value) is None


def test_declared_match_is_the_stripped_value_with_its_name():
    """The match spans the value without surrounding whitespace and names the key."""
    m = declared_match("DEPLOY_TOKEN", f"  {VALUE}\n")
    assert m is not None
    assert (m.rule_id, m.secret, m.start, m.end, m.line, m.captures) == \
        (DECLARED_RULE_ID, VALUE, 2, 2 + len(VALUE), 1, (("name", "DEPLOY_TOKEN"),))


def test_with_declared_only_for_declared_chunks_without_rule_hits():
    """A rule hit wins; an undeclared chunk (a file named like a key) never gets a declared match."""
    loc = (Location("gitlab-variable", "g/p", "DEPLOY_TOKEN@*"),)
    declared = Chunk(VALUE.encode(), loc, hint="DEPLOY_TOKEN", declared=True)
    assert [m.secret for m in with_declared(declared, [])] == [VALUE]
    hit = Match("x.rule", "x", "other", 0, 5, 1)
    assert with_declared(declared, [hit]) == [hit]
    assert with_declared(Chunk(VALUE.encode(), loc, hint="DEPLOY_TOKEN"), []) == []
