"""Keyword proximity: a prefix-less value counts only when its provider is named near it."""

from __future__ import annotations


def keyword_near(secret: str, context: str, keywords: tuple[str, ...]) -> bool:
    """True when one of the rule's keywords occurs (case-insensitive) in the text around the
    secret, outside the secret itself."""
    around = context.replace(secret, " ").lower()
    return any(k.lower() in around for k in keywords)
