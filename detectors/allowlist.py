"""Allowlists of imported gitleaks rules: when a match is allowed (not reported). The engine asks
`allowed` for what it can see (the secret, the whole regex match, its line); paths are known only
where a match meets its locations, so `located` keeps the locations a rule's `path` and path
allowlists let through. Missing evidence never allows: an AND allowlist whose path part cannot
be checked in the engine does not drop the match there."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

import regex

from detectors.rule import Allowlist, Rule

L = TypeVar("L")


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def _text_hit(a: Allowlist, secret: str, match: str, line: str) -> tuple[bool, bool]:
    """(regexes configured and one hit, stopwords configured and one hit)."""
    target = {"secret": secret, "match": match, "line": line}[a.target]
    rx = any(_compiled(p).search(target) for p in a.regexes)
    low = secret.lower()
    stop = any(w.lower() in low for w in a.stopwords)
    return rx, stop


def allowed(rule: Rule, secret: str, match: str, line: str) -> bool:
    """True when an allowlist without paths allows this match (AND: every part it sets holds)."""
    for a in rule.allowlists:
        if a.paths:
            continue
        rx, stop = _text_hit(a, secret, match, line)
        if a.condition == "AND":
            if (not a.regexes or rx) and (not a.stopwords or stop) and (a.regexes or a.stopwords):
                return True
        elif rx or stop:
            return True
    return False


def path_allowed(rule: Rule, path: str, secret: str | None) -> bool:
    """True when an allowlist with paths allows a copy at `path` (AND lists also need their
    secret-target regexes / stopwords to hold, which needs the plaintext)."""
    for a in rule.allowlists:
        if not a.paths or not any(_compiled(p).search(path) for p in a.paths):
            continue
        if a.condition != "AND" or not (a.regexes or a.stopwords):
            return True
        if secret is None or a.target != "secret":
            continue  # cannot check here: keep the copy
        rx, stop = _text_hit(a, secret, secret, secret)
        if (not a.regexes or rx) and (not a.stopwords or stop):
            return True
    return False


def needs_paths(rule: Rule) -> bool:
    return rule.path is not None or any(a.paths for a in rule.allowlists)


def located(rule: Rule, locations: Iterable[L], secret: str | None) -> tuple[L, ...]:
    """The locations this rule may report at: inside its `path`, outside its path allowlists."""
    keep = []
    for loc in locations:
        path = str(getattr(loc, "path", "") or "")
        if rule.path is not None and not _compiled(rule.path).search(path):
            continue
        if path_allowed(rule, path, secret):
            continue
        keep.append(loc)
    return tuple(keep)
