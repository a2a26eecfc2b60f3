"""Declared secrets: a value stored under a name that says it is a secret (`OPENAI_API_KEY`,
`DEPLOY_TOKEN`, `DB_PASSWORD` ...) is a credential even when no rule recognises its format.
Sources that read named values (CI/CD variables, vault keys) mark such chunks `declared=True` with
the name as `hint`; `with_declared` adds a `declared.secret` match for the whole value when no rule
matched it. Takes a chunk and the engine's matches, gives the matches to keep."""

from __future__ import annotations

import regex

from detectors.validators import is_placeholder
from scanner.model import Chunk, Match

DECLARED_RULE_ID = "declared.secret"
DECLARED_PROVIDER = "declared"

_SECRET_NAME = regex.compile(
    r"(?i)(?:^|[_.\-])(?:api[_.\-]?key|access[_.\-]?key|secret(?:[_.\-]?key)?|token|"
    r"pass(?:word|wd|phrase)?|pwd|private[_.\-]?key|credentials?|auth)(?:$|[_.\-])"
    r"|password|passwd|secret|apikey|token$")
_NOT_A_VALUE = regex.compile(
    r"(?i)[_.\-](?:url|uri|host|endpoint|file|path|dir|name|id|type|user(?:name)?|enabled|"
    r"expir\w*|ttl|length|header)$")
_REFERENCE = regex.compile(r"^\$\{?\{?\s*[A-Za-z_][\w.]*\s*\}?\}?$|^\$\([^)]*\)$")
MIN_LENGTH = 8


def is_secret_name(name: str) -> bool:
    """True for names that declare a secret: `*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*`..."""
    return bool(_SECRET_NAME.search(name)) and not _NOT_A_VALUE.search(name)


def declared_match(name: str, value: str) -> Match | None:
    """A `declared.secret` match for the whole `value` stored under `name`, or None when the name
    is not a secret's or the value is empty, short, a placeholder or a reference to another
    variable (`$OTHER`, `${{ secrets.X }}`)."""
    secret = value.strip()
    if not is_secret_name(name) or len(secret) < MIN_LENGTH or "\n" in secret:
        return None
    if _REFERENCE.match(secret) or is_placeholder(secret):
        return None
    start = value.index(secret)
    return Match(DECLARED_RULE_ID, DECLARED_PROVIDER, secret, start, start + len(secret), 1,
                 (("name", name),))


def with_declared(chunk: Chunk, matches: list[Match]) -> list[Match]:
    """The engine's matches, plus a declared match when the chunk is a declared value none hit."""
    if matches or not chunk.declared:
        return matches
    m = declared_match(chunk.hint, chunk.data.decode("utf-8", "replace"))
    return [m] if m else matches
