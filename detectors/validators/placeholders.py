"""Placeholder filter: values that look like a key's shape but are documentation or templates."""

from __future__ import annotations

import regex

_WORDS = regex.compile(
    r"(?i)example|dummy|fake|placeholder|your[_-]?(api[_-]?)?(key|token|secret)|changeme|"
    r"redacted|insert[_-]?(your|key)|replace[_-]?me|sample|xxxx|<[^>]*>|\.\.\.|\*\*\*\*"
)
_SEQUENTIAL = ("0123456789", "123456789", "abcdefghij", "ABCDEFGHIJ", "qwertyuiop")


def is_placeholder(secret: str) -> bool:
    """True for templates (`sk-xxxx`, `YOUR_API_KEY`, `<OPENAI_KEY>`, `changeme`, one repeated char,
    long sequential runs)."""
    if _WORDS.search(secret):
        return True
    # the random part of a prefixed token is its longest separator-free run
    body = max(regex.split(r"[-_.]", secret), key=len)
    if len(set(body)) <= 2:
        return True
    low = secret.lower()
    return any(seq.lower() in low for seq in _SEQUENTIAL)
