"""The Rule record: one credential shape, loaded from a rule file (`detectors/rules/*.toml`)."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: dict[str, str] = {
    "ai": "AI and LLM providers",
    "search": "Web search and scraping",
    "data": "Vector and data stores",
    "observability": "Observability and LLM ops",
    "messaging": "Messaging and email",
    "work": "Work tools",
    "payments": "Payments and commerce",
    "cloud": "Cloud and hosting",
    "code": "Code, CI and package registries",
    "identity": "Identity and secrets management",
    "generic": "Generic formats (keys, tokens, connection URLs)",
    "other": "Other (rules without a category)",
}
"""Rule category id -> title, in listing order; a rule file names one per rule (`category`)."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    """An imported gitleaks allowlist: what it matches is not reported (`detectors.allowlist`)."""

    regexes: tuple[str, ...] = ()
    """Patterns searched in the `target`."""
    target: str = "secret"
    """What the regexes read: `secret`, `match` (the whole regex match) or `line`."""
    paths: tuple[str, ...] = ()
    """Patterns searched in a copy's path."""
    stopwords: tuple[str, ...] = ()
    """Words that, inside the secret (case-insensitive), allow it."""
    condition: str = "OR"
    """`OR`: any part set allows; `AND`: every part set must hold."""
    commits: tuple[str, ...] = ()
    """Commits (full ids) whose copies are allowed."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One credential shape."""

    id: str
    """Stable id, never reused (`openai.project`)."""
    provider: str
    """Provider family (`openai`)."""
    name: str
    """Human name (`OpenAI project API key`)."""
    pattern: str
    """Regex (the `regex` module's syntax); the capture group `secret`, or else group 1, is the secret."""
    keywords: tuple[str, ...]
    """Case-insensitive literals of which one must occur in a chunk for the rule to run."""
    min_entropy: float = 0.0
    """Shannon entropy floor (bits per char) of the secret."""
    validators: tuple[str, ...] = ()
    """Names from `detectors.validators.VALIDATORS`; all must accept the secret."""
    lifetime_hint: str = "static"
    """`static` or `short-lived`."""
    examples: tuple[str, ...] = ()
    """Texts the rule must match."""
    negative_examples: tuple[str, ...] = ()
    """Texts the rule must not report."""
    references: tuple[str, ...] = ()
    """Where the format is documented."""
    severity: str = "high"
    """`low`, `medium`, `high` or `critical`."""
    source_file: str = ""
    """The file the rule came from."""
    secret_group: int | None = None
    """Explicit capture group of the secret (gitleaks `secretGroup`; 0 = the whole match); None:
    the group `secret`, or else group 1."""
    allow_runs: bool = False
    """The format itself has runs of repeated characters (base64 of binary structure): the
    placeholder filter's run and sequence tests are skipped for this rule."""
    path: str | None = None
    """Imported gitleaks `path`: the rule reports only copies whose path matches."""
    allowlists: tuple[Allowlist, ...] = ()
    """Imported gitleaks allowlists (global and the rule's own)."""
    origin: str = "sprawlscan"
    """`sprawlscan` (our format: examples required) or `gitleaks` (imported: examples optional)."""
    category: str = "other"
    """A key of `CATEGORIES`: what kind of tool the credential opens (`search`, `payments`...)."""


def by_category(rules: list[Rule]) -> dict[str, list[Rule]]:
    """Rules grouped by category, in `CATEGORIES` order (empty categories left out), each group
    in load order."""
    groups: dict[str, list[Rule]] = {c: [] for c in CATEGORIES}
    for rule in rules:
        groups[rule.category].append(rule)
    return {c: g for c, g in groups.items() if g}
