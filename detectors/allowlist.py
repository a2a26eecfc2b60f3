"""Allowlists of imported gitleaks rules: when a match is allowed (not reported), as gitleaks
decides it. Each list sets some of: `regexes` (searched in the secret, the whole match or its
line), `stopwords` (inside the secret), `paths` (searched in a copy's path) and `commits` (the
commit that brought the copy). An `OR` list allows when any criterion it sets holds; an `AND`
list only when every criterion it sets holds.

Two places see different evidence. The engine sees the text: `text_verdict` allows a match that
an OR list's regexes / stopwords, or an AND list without paths or commits, allows; and it notes
the AND lists with paths or commits whose text criteria all hold (`Match.allow_pending`). Where
the match meets its locations, `located` drops each copy an OR list's paths / commits allow, or a
pending AND list's paths and commits allow. Missing evidence never allows: a match remembered from
an earlier scan (no text at hand) satisfies no AND list's text criteria."""

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


def _text_checks(a: Allowlist, secret: str, match: str, line: str) -> list[bool]:
    """One result per text criterion the list sets (regexes, stopwords)."""
    target = {"secret": secret, "match": match, "line": line}[a.target]
    checks = []
    if a.regexes:
        checks.append(any(_compiled(p).search(target) for p in a.regexes))
    if a.stopwords:
        low = secret.lower()
        checks.append(any(w.lower() in low for w in a.stopwords))
    return checks


def text_verdict(rule: Rule, secret: str, match: str, line: str) -> tuple[int, ...] | None:
    """None when the text alone allows the match; else the indexes of the AND lists that wait for
    a copy's path / commit (their text criteria, if any, all hold)."""
    pending = []
    for i, a in enumerate(rule.allowlists):
        checks = _text_checks(a, secret, match, line)
        if a.condition != "AND":
            if any(checks):
                return None
        elif all(checks):
            if a.paths or a.commits:
                pending.append(i)
            elif checks:
                return None
    return tuple(pending)


def location_allowed(rule: Rule, path: str, commit: str, pending: tuple[int, ...] | None) -> bool:
    """True when a list allows the copy at `path` brought by `commit`; `pending` as from
    `text_verdict`, None when unknown (then no AND list with text criteria allows)."""
    for i, a in enumerate(rule.allowlists):
        if not (a.paths or a.commits):
            continue
        path_ok = bool(a.paths) and any(_compiled(p).search(path) for p in a.paths)
        commit_ok = bool(a.commits) and commit in a.commits
        if a.condition != "AND":
            if path_ok or commit_ok:
                return True
            continue
        if (a.paths and not path_ok) or (a.commits and not commit_ok):
            continue
        if (a.regexes or a.stopwords) and (pending is None or i not in pending):
            continue
        return True
    return False


def needs_paths(rule: Rule) -> bool:
    return rule.path is not None or any(a.paths or a.commits for a in rule.allowlists)


def located(rule: Rule, locations: Iterable[L], pending: tuple[int, ...] | None) -> tuple[L, ...]:
    """The locations this rule may report at: inside its `path`, not allowed by its lists."""
    keep = []
    for loc in locations:
        path = str(getattr(loc, "path", "") or "")
        if rule.path is not None and not _compiled(rule.path).search(path):
            continue
        if location_allowed(rule, path, str(getattr(loc, "commit", "") or ""), pending):
            continue
        keep.append(loc)
    return tuple(keep)
