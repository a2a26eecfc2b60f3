"""Declared secrets: a value counts as a credential when the name it is stored under says so
(`OPENAI_API_KEY`, `DB_PASSWORD`, `slack_token`...), even when no rule knows its format.

Takes a key name and its value, gives a `Match` with rule id `declared.secret` (provider guessed
from the name, else `unknown`). Used by sources of named values (vault keys, CI variables) and by
the structured-config pass (`.env`, Kubernetes Secrets, compose `environment`, MCP `env` blocks).
References (`${VAR}`, `$(cat x)`, `{{ secrets.X }}`), empty values and placeholders are not
secrets: they feed the graph, not the findings."""

from __future__ import annotations

import regex

from detectors.validators import is_placeholder, shannon_entropy
from scanner.model import Match

RULE_ID = "declared.secret"
MIN_LENGTH = 8
MIN_ENTROPY = 3.0
_TEMPLATE = regex.compile(r"(?i)replace|change[_.\-]?(?:me|it)|todo|fixme|^(?:my)?(?:secret|password|pass)")
# a secrets store (vault, CI variables) holds real values of any shape, but templates too
_STORE_TEMPLATE = regex.compile(
    r"(?i)(?:^|[^a-z])(?:todo|fixme|tbd|tbc)(?:[^a-z]|$)|replace[_.\-\s]?(?:me|this|with)|"
    r"change[_.\-\s]?(?:me|it|this)|fill[_.\-\s]?(?:me|in)|set[_.\-\s]?me(?:[^a-z]|$)|"
    r"^(?:x+|\*+|\.+|-+|n/?a)$")

# name words that mean "this holds a secret"; matched on the name split at _ - . and case changes
_SECRET_WORDS = regex.compile(
    r"(?i)(?:^|[_.\-])(?:api[_.\-]?key|apikey|access[_.\-]?key|secret(?:[_.\-]?key)?|token|pat|"
    r"password|passwd|pwd|passphrase|private[_.\-]?key|credentials?|client[_.\-]?secret|"
    r"(?:auth|signing|encryption|master|license)[_.\-]?key|secret[_.\-]?key[_.\-]?base|"
    r"webhook[_.\-]?url|dsn|conn(?:ection)?[_.\-]?string)$")
# names that end in a secret word but name something that is not one
_NOT_SECRET = regex.compile(
    r"(?i)(?:^|[_.\-])(?:token[_.\-]?(?:url|uri|endpoint|type|file|path|ttl|expiry|expires)|"
    r"(?:key|secret|token|password)[_.\-]?(?:id|name|ref|file|path|length|env|var))$")

_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("openai", "openai"), ("anthropic", "anthropic"), ("claude", "anthropic"),
    ("github", "github"), ("gh_", "github"), ("gitlab", "gitlab"), ("slack", "slack"),
    ("huggingface", "huggingface"), ("hf_", "huggingface"), ("aws", "aws"), ("azure", "azure"),
    ("google", "google"), ("gemini", "google"), ("gcp", "google"), ("mistral", "mistral"),
    ("groq", "groq"), ("cohere", "cohere"), ("pinecone", "pinecone"), ("langchain", "langchain"),
    ("langsmith", "langchain"), ("stripe", "stripe"), ("twilio", "twilio"), ("sendgrid", "sendgrid"),
    ("datadog", "datadog"), ("jira", "atlassian"), ("confluence", "atlassian"), ("npm", "npm"),
    ("postgres", "database"), ("mysql", "database"), ("db_", "database"), ("database", "database"),
    ("redis", "database"), ("mongo", "database"),
)

_REFERENCE = regex.compile(
    r"^\s*(?:\$\{\{[^}]*\}\}|\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]*\}\}|%[A-Za-z_]+%|"
    r"<[^>]*>|env\([^)]*\)|\(\(.*\)\)|vault:.*|ref\+.*|arn:aws:secretsmanager:.*|op://.*)\s*$")


def is_secret_name(name: str) -> bool:
    """True when a variable / key name says it holds a secret (`OPENAI_API_KEY`, `password`)."""
    # split camelCase so that `openaiApiKey` reads as `openai_Api_Key`
    flat = regex.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    if not flat or _NOT_SECRET.search(flat):
        return False
    return bool(_SECRET_WORDS.search(flat))


def provider_from_name(name: str) -> str:
    """The provider a secret's name points at (`OPENAI_API_KEY` → `openai`), else `unknown`."""
    low = name.lower() + "_"
    for needle, provider in _PROVIDERS:
        if needle in low:
            return provider
    return "unknown"


def is_secret_value(value: str, *, strict: bool = True) -> bool:
    """A literal value worth reporting: not a reference, not a placeholder, long enough. `strict`
    (config files, where sample values abound) also wants 8+ chars and an entropy floor; a
    secrets store (`strict=False`) is believed about anything of 6+ chars that is no template
    (`TODO: set in prod`, `ChangeMe123`, `<your key>`, `xxx`)."""
    v = value.strip()
    if len(v) < (MIN_LENGTH if strict else 6) or "\n" in v and not v.startswith("-----BEGIN"):
        return False
    if _REFERENCE.match(v) or v.lower() in {"true", "false", "null", "none"}:
        return False
    if strict and (shannon_entropy(v) < MIN_ENTROPY or _TEMPLATE.search(v)):
        return False
    if not strict and _STORE_TEMPLATE.search(v):
        return False
    return not is_placeholder(v)


def declared_match(name: str, value: str, *, start: int = 0, line: int = 1,
                   strict: bool = True) -> Match | None:
    """A `declared.secret` match for `value` stored under `name`, or None when either says no.
    `start` / `line` place the value in the chunk it came from; see `is_secret_value`."""
    if not is_secret_name(name):
        return None
    secret = value.strip()
    if not is_secret_value(secret, strict=strict):
        return None
    offset = start + value.find(secret)
    return Match(RULE_ID, provider_from_name(name), secret, offset, offset + len(secret), line)


def covered(secret: str, matches: list[Match]) -> bool:
    """True when a rule already matched this value (or a secret inside it): the rule's match wins."""
    return any(m.secret in secret or secret in m.secret for m in matches)
