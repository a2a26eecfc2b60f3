"""Placeholder filter: values that look like a key's shape but are documentation or templates
(`sk-xxxx`, `YOUR_API_KEY`, `<OPENAI_KEY>`, `changeme`, `${DB_PASSWORD}`, `{{ .Values.x }}`,
a character repeated eight times, eight-long runs like `12345678` or `abcdefgh`). Applied by the
engine to every rule. Key blocks (PEM, OpenSSH, PGP) and values of a rule whose format defines
such runs (`allow_runs`) skip the run tests: an unencrypted OpenSSH key's fixed header is
`b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB...`. Widely published samples (the jwt.io
token, providers' documentation keys: `detectors/samples.toml`) are refused as well. Thresholds are set so that random keys are almost never refused
(tests/test_rule_properties.py draws fresh ones for every rule)."""

from __future__ import annotations

import hashlib
import re
import tomllib
from functools import cache
from importlib import resources

# word markers, matched in lower, UPPER or Capitalised spelling only: random base64 of a long key
# would otherwise contain `FaKe` or `XxXx` by chance
_WORDS = ("example", "dummy", "fake", "placeholder", "changeme", "change_me", "redacted", "sample",
          "your_api", "yourapi", "your-api", "your_key", "your_token", "your_secret",
          "yourkey", "yourtoken", "yoursecret", "your-key", "your-token", "your-secret", "yourpassword",
          "your_password", "insert_", "replace_me", "replaceme", "notreal", "not_a_real", "testtoken")
LONG = 100
"""Secrets longer than this are only checked for markers of six letters or more."""
_LONG_WORDS = tuple(w for w in _WORDS if len(w) >= 6)
_TEMPLATE = re.compile(
    r"<[^<>]*>|\.\.\.|…|\*{4,}|\$\{|\{\{|\}\}|%\(|%[A-Z_]+%|^\$[A-Za-z_]\w*$|^\$\(|^process\.env|^os\.environ|"
    r"(?:^|[_\-])[Yy][Oo][Uu][Rr][_\-]|[_\-][Hh][Ee][Rr][Ee]$")
_REPEAT = re.compile(r"(.)\1{7,}|(.{2,8})\2{3,}")
_RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "qwertyuiop",
         "asdfghjkl", "zyxwvutsrqponmlkjihgfedcba", "9876543210")
# runs of 8: numeric ids (Slack) hit a 6-digit run by chance every few thousand tokens; the
# stdlib `re` runs a plain literal alternation several times faster than `regex`
_SEQUENCE = re.compile("|".join(sorted({re.escape(run[i:i + 8]) for run in _RUNS
                                        for i in range(len(run) - 7)})))
_XS = re.compile(r"xxxx|XXXX")
_SEPARATORS = re.compile(r"[-_.:]")
_COMMON = frozenset({"password", "passwd", "secret", "postgres", "root", "admin", "test", "user",
                     "pass", "default", "guest", "token", "apikey", "api_key", "mysql", "redis",
                     "mongo", "letmein", "qwerty", "none", "null", "empty", "string"})


_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----")


@cache
def _samples() -> tuple[frozenset[str], tuple[str, ...]]:
    """(SHA-256 of known sample values, JWT signatures of sample tokens) from samples.toml."""
    doc = tomllib.loads((resources.files("detectors") / "samples.toml").read_text(encoding="utf-8"))
    return (frozenset(s["sha256"] for s in doc.get("sample", [])),
            tuple(doc.get("jwt", {}).get("sample_signatures", [])))


def is_known_sample(secret: str) -> bool:
    """True for a widely published sample value (see `detectors/samples.toml`)."""
    hashes, signatures = _samples()
    if secret.startswith("ey") and secret.count(".") == 2 and secret.endswith(signatures):
        return True
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest() in hashes


def is_placeholder(secret: str, *, runs: bool = True) -> bool:
    """True for templates and documentation values; see the module docstring. `runs=False`: the
    value's format has runs of repeated characters (binary structure in base64), do not test them."""
    if runs and _KEY_BLOCK.search(secret):
        runs = False
    lower = secret.lower()
    # in a long random body (a PEM key, a JWT) a 4-5 letter marker occurs by chance
    words = _WORDS if len(secret) <= LONG else _LONG_WORDS
    for word in words:
        if word in lower and (word in secret or word.upper() in secret or word.capitalize() in secret):
            return True
    if len(secret) <= LONG and _XS.search(secret):
        return True
    if _TEMPLATE.search(secret):
        return True
    if lower in _COMMON or lower.rstrip("0123456789!") in _COMMON:
        return True
    # the random part of a prefixed token is its longest separator-free run
    body = max(_SEPARATORS.split(secret), key=len)
    if len(set(body)) <= 2:
        return True
    if runs and (_REPEAT.search(secret) is not None or _SEQUENCE.search(secret) is not None):
        return True
    return is_known_sample(secret)
