"""Placeholder filter: values that look like a key's shape but are documentation or templates
(`sk-xxxx`, `YOUR_API_KEY`, `<OPENAI_KEY>`, `changeme`, `${DB_PASSWORD}`, `{{ .Values.x }}`,
one repeated character, `abcdef`/`123456` runs). Applied by the engine to every rule."""

from __future__ import annotations

import re


# word markers, matched in lower, UPPER or Capitalised spelling only: random base64 of a long key
# would otherwise contain `FaKe` or `XxXx` by chance
_WORDS = ("example", "dummy", "fake", "placeholder", "changeme", "change_me", "redacted", "sample",
          "xxxx", "your_api", "yourapi", "your-api", "your_key", "your_token", "your_secret",
          "yourkey", "yourtoken", "yoursecret", "your-key", "your-token", "your-secret", "yourpassword",
          "your_password", "insert_", "replace_me", "replaceme", "notreal", "not_a_real", "testtoken")
_TEMPLATE = re.compile(
    r"<[^<>]*>|\.\.\.|…|\*\*\*|\$\{|\{\{|\}\}|%\(|%[A-Z_]+%|^\$[A-Za-z_]\w*$|^\$\(|^process\.env|^os\.environ")
_REPEAT = re.compile(r"(.)\1{5,}|(.{2,4})\2{4,}")
_RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "qwertyuiop",
         "asdfghjkl", "zyxwvutsrqponmlkjihgfedcba", "9876543210")
# stdlib `re`: a plain literal alternation runs several times faster there than in `regex`
_SEQUENCE = re.compile("|".join(sorted({re.escape(run[i:i + 6]) for run in _RUNS
                                        for i in range(len(run) - 5)})))
_SEPARATORS = re.compile(r"[-_.:]")
_COMMON = frozenset({"password", "passwd", "secret", "postgres", "root", "admin", "test", "user",
                     "pass", "default", "guest", "token", "apikey", "api_key", "mysql", "redis",
                     "mongo", "letmein", "qwerty", "none", "null", "empty", "string"})


def is_placeholder(secret: str) -> bool:
    """True for templates and documentation values; see the module docstring."""
    variants = (secret.lower(), secret.upper())
    for word in _WORDS:
        if word in variants[0] and (word in secret or word.upper() in secret or word.capitalize() in secret):
            return True
    if _TEMPLATE.search(secret):
        return True
    if variants[0] in _COMMON or variants[0].rstrip("0123456789!") in _COMMON:
        return True
    # the random part of a prefixed token is its longest separator-free run
    body = max(_SEPARATORS.split(secret), key=len)
    if len(set(body)) <= 2 or _REPEAT.search(secret):
        return True
    return _SEQUENCE.search(secret) is not None
