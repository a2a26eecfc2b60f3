"""Core records passed between stages: sources give Chunks, the engine gives Matches, findings give
Credentials. Every record here is a frozen dataclass; the plaintext secret lives only in `Match` and
in memory, never in a `Credential` (which carries a SHA-256 fingerprint and a redacted preview)."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import TYPE_CHECKING
from scanner.fingerprints import fingerprint_of

if TYPE_CHECKING:
    from detectors.rule import Rule
    from scanner.verify.base import Verification


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """Where one copy of a secret sits."""

    source: str
    """Kind of place: `git`, `file`, `github-issue`, `gitlab-variable`, `jira`, `confluence`, `vault`..."""
    container: str = ""
    """Repository name (`owner/name`), project, vault mount, Jira project; empty for plain files."""
    path: str = ""
    """File path, vault `path#key`, ticket key; relative to the container."""
    commit: str | None = None
    """Git commit (40 hex) that introduced the copy at this path, or None outside git history."""
    line: int | None = None
    """1-based line of the secret in the blob or file; None until the engine attributes a match."""
    state: str = "live"
    """`live` (present now: HEAD, working tree, current version), `historical` (history only) or
    `unreachable` (a git object no ref or reflog reaches: still in the store, fetchable by id)."""
    url: str | None = None
    """Link to the place when the source has one (ticket, page, web UI)."""
    attributes: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """Facts the place states about the copy, for the graph (vault `created_time`, `version`,
    `custom_metadata.expires`...), sorted (key, value) pairs; not part of a location's identity."""

    def with_line(self, line: int) -> Location:
        return Location(self.source, self.container, self.path, self.commit, line, self.state, self.url,
                        self.attributes)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"source": self.source}
        if self.source == "git":
            out["repo"] = self.container
            out["commit"] = self.commit
        elif self.container:
            out["container"] = self.container
        attributes = dict(self.attributes)
        if self.source == "git" and "blob" in attributes:  # an unreachable blob without a path
            out["blob"] = attributes.pop("blob")
        out["path"] = self.path if self.path or "blob" not in out else None
        out["line"] = self.line
        out["state"] = self.state
        if self.url:
            out["url"] = self.url
        if attributes:
            out["attributes"] = attributes
        return out


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes to scan and every place they stand for (one git blob may sit at many commit/path pairs)."""

    data: bytes
    """The raw content."""
    locations: tuple[Location, ...]
    """Where this content sits; line numbers are left None and filled per match."""
    hint: str = ""
    """A file name or key that tells the engine how to read it (`x.ipynb`, `OPENAI_API_KEY`)."""
    key: str = ""
    """Set when the chunk is one named value (a vault key, a CI variable): its name. A name that
    says "secret" (`*_API_KEY`, `password`...) makes the whole value a declared credential."""
    blob: str = ""
    """Git blob id the data was read from (empty outside git): the key of the incremental cache."""
    carried: bool = False
    """True: the blob was already scanned with the same rules, `data` is empty and the findings are
    carried over from the datastore (`KnownMatch`es) instead of being scanned again."""
    previous: bytes | None = None
    """Diff modes: the content this chunk replaced; a secret also present there is not new."""


@dataclass(frozen=True, slots=True)
class Match:
    """One rule hit in one chunk. Holds the plaintext: keep it in memory only."""

    rule_id: str
    """Id of the rule that matched."""
    provider: str
    """Provider family of the rule (`openai`, `github`...)."""
    secret: str
    """The exact secret string (the rule's capture)."""
    start: int
    """Offset of the secret in the decoded chunk text."""
    end: int
    """End offset of the secret in the decoded chunk text."""
    line: int
    """1-based line of the secret in the chunk."""
    captures: tuple[tuple[str, str], ...] = ()
    """Other named captures of the rule (e.g. `key_id` for an AWS secret key)."""
    lifetime_hint: str = "static"
    """`static` or `short-lived`, from the rule."""
    allow_pending: tuple[int, ...] = ()
    """Imported gitleaks AND allowlists (indexes in the rule's) whose text criteria hold: they
    allow the copies at their paths / commits (`detectors.allowlist.located`)."""


@dataclass(frozen=True, slots=True)
class KnownMatch:
    """A match remembered from an earlier scan of the same blob: everything but the plaintext."""

    fingerprint: str
    """SHA-256 hex of the secret."""
    rule_id: str
    """Rule that matched."""
    provider: str
    """Provider family."""
    redacted: str
    """Redacted preview."""
    line: int
    """1-based line in the blob."""
    lifetime_hint: str = "static"
    """`static` or `short-lived`."""
    captures: tuple[tuple[str, str], ...] = ()
    """Non-secret named captures."""
    keyed: bool = False
    """The fingerprint is the keyed HMAC of a low-entropy value (`scanner.fingerprints`)."""

    @classmethod
    def of(cls, match: Match) -> KnownMatch:
        fp, keyed = fingerprint_of(match.secret)
        return cls(fp, match.rule_id, match.provider,
                   redact(match.secret, dict(match.captures).get("key_id")),
                   match.line, match.lifetime_hint, match.captures, keyed)


def fingerprint(secret: str) -> str:
    """A credential's identity: the plain SHA-256 hex of a high-entropy value, the keyed HMAC of a
    guessable one (`scanner.fingerprints.fingerprint_of` decides). A multi-line secret (a PEM key)
    is taken with LF line endings and no trailing whitespace per line first: the same key pasted
    from Windows (CRLF) is the same credential."""
    return fingerprint_of(secret)[0]


def fingerprint_json(fp: str, keyed: bool) -> dict[str, str]:
    """How outputs name a fingerprint: `secret_sha256` for a plain SHA-256, else
    `"fingerprint": "keyed"` with `secret_hmac` (never a plain hash of a guessable value)."""
    return {"fingerprint": "keyed", "secret_hmac": fp} if keyed else {"secret_sha256": fp}


def redact(secret: str, key_id: str | None = None) -> str:
    """A preview that identifies the shape but never the value: a few leading chars + length. A
    credential that comes with a public key id (AWS `AKIA…`) is previewed by that id instead, the
    name people look it up by, and shows nothing of the secret half but its length."""
    if key_id:
        return f"{key_id[:8]}…({len(key_id)}) + secret ({len(secret)})"
    shown = min(6, len(secret) // 4)
    return f"{secret[:shown]}…({len(secret)})"


@dataclass(frozen=True, slots=True)
class Credential:
    """One unique secret, with every place a copy of it was found."""

    fingerprint: str
    """SHA-256 hex of the exact secret string; its keyed HMAC when `keyed`."""
    rule_id: str
    """Id of the first rule that matched it."""
    provider: str
    """Provider family."""
    redacted: str
    """Redacted preview (leading chars + length)."""
    locations: tuple[Location, ...]
    """Every copy, sorted."""
    lifetime_hint: str = "static"
    """`static` or `short-lived`, from the rule."""
    captures: tuple[tuple[str, str], ...] = ()
    """Non-secret named captures (e.g. an AWS key id)."""
    keyed: bool = False
    """The fingerprint is the keyed HMAC of a low-entropy value, not its SHA-256."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            **fingerprint_json(self.fingerprint, self.keyed),
            "rule_id": self.rule_id,
            "provider": self.provider,
            "redacted": self.redacted,
            "lifetime_hint": self.lifetime_hint,
            "locations": [loc.to_json() for loc in self.locations],
        }
        if self.captures:
            out["captures"] = dict(self.captures)
        return out


@dataclass(slots=True)
class ScanStats:
    """What a scan did, so that nothing is skipped silently."""

    chunks: int = 0
    """Chunks scanned."""
    bytes: int = 0
    """Bytes scanned."""
    blobs: int = 0
    """Unique git blobs scanned."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Counts of skipped items by reason (`binary`, `too-large`, `unreadable`, `excluded`...)."""
    errors: list[str] = field(default_factory=list)
    """One-line reasons why the scan is incomplete (a source failed part-way)."""
    config: str = ""
    """Which configuration the scan ran with (`BASE:sprawlscan.toml` in CI modes); empty: unsaid."""
    warnings: list[str] = field(default_factory=list)
    """One-line notes on what was left out without making the scan incomplete (a rule that ran
    out of time on a file), each counted in `skipped` too."""

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def rule_timeouts(self, rule_ids: list[str], where: str) -> None:
        """Rules that ran out of time on `where`: one warning and one `rule-timeout` skip per
        (rule, file), however many chunks of it the rule gave up on."""
        for rule_id in rule_ids:
            note = f"rule {rule_id} ran out of time on {where}: skipped there"
            if note not in self.warnings:
                self.warnings.append(note)
                self.skip("rule-timeout")

    def merge(self, other: ScanStats) -> None:
        self.chunks += other.chunks
        self.bytes += other.bytes
        self.blobs += other.blobs
        for k, v in other.skipped.items():
            self.skip(k, v)
        self.errors.extend(other.errors)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)
        self.config = self.config or other.config

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"chunks": self.chunks, "bytes": self.bytes, "blobs": self.blobs,
                                  "skipped": dict(sorted(self.skipped.items())),
                                  "errors": list(self.errors)}
        if self.config:
            out["config"] = self.config
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The output of a scan: deduplicated credentials plus what was (not) scanned."""

    credentials: tuple[Credential, ...]
    """Unique credentials, sorted by fingerprint."""
    stats: ScanStats
    """Counters and errors."""
    facts: tuple[InventoryFact, ...] = ()
    """What the sources declared for the graph (secret names, workflow files), in crawl order."""
    allowlisted: frozenset[str] = frozenset()
    """Fingerprints that were found but suppressed by the allowlist (recorded as events)."""
    rules: tuple[Rule, ...] = ()
    """The rules the scan ran with: the catalogue for SARIF metadata and `--fail-on` severities."""
    verifications: Mapping[str, Verification] | None = None
    """`--verify`: fingerprint → what its provider said; None when nothing was verified."""

    @property
    def incomplete(self) -> bool:
        return bool(self.stats.errors)


@dataclass(frozen=True, slots=True)
class InventoryFact:
    """A record that feeds the graph, never a secret value: what a forge declares (an Actions
    secret *name*, a CI/CD variable name, a workflow or CI config file read through the API), and
    what a local repository or folder holds (a workflow, CI, MCP/agent config, compose, dotenv or
    code file's text at HEAD, a file at a ref a workflow pins, the repository itself). The graph
    reads only these; file text is redacted (every value a rule finds replaced by its preview)
    before it reaches the graph or the datastore."""

    kind: str
    """`actions-secret`, `workflow` (GitHub), `ci-variable`, `ci-config` (GitLab); `file` (a
    config or code file at HEAD / in the working tree), `pinned` (a file at a pinned ref),
    `git-repo` (a scanned local git repository: pinned refs can be read from it)."""
    scope: str
    """Where it is declared: org login / `owner/repo` (GitHub), group or project path (GitLab)."""
    name: str
    """The secret or variable name, or the file path (`.github/workflows/ci.yml`); `git-repo`:
    the repository's local path."""
    level: str = ""
    """`org`, `repo`, `environment` (GitHub); `group`, `project`, `schedule` (GitLab)."""
    environment: str = ""
    """GitHub environment name, GitLab `environment_scope`; empty when not environment-bound."""
    content: str = ""
    """File text for `workflow`, `ci-config`, `file` and `pinned` records; empty otherwise."""
    ref: str = ""
    """`pinned`: the ref the file was read at (its `level`: `head` when the same blob as HEAD,
    `missing` when the ref or the file is not there)."""

    def reference(self) -> str:
        """How an inventory names this (INVENTORY.md): `acme/x:NAME`, `org:acme:NAME`,
        `acme/x:NAME@production` (GitHub environment), `group/p:NAME@scope` (GitLab),
        `acme/x/.github/workflows/ci.yml`, `group/p:.gitlab-ci.yml`."""
        if self.kind == "workflow":
            return f"{self.scope}/{self.name}"
        if self.kind == "actions-secret" and self.level == "org":
            return f"org:{self.scope}:{self.name}"
        if self.kind == "ci-variable" and self.level in ("group", "project"):
            return f"{self.scope}:{self.name}@{self.environment or '*'}"
        if self.environment:
            return f"{self.scope}:{self.name}@{self.environment}"
        return f"{self.scope}:{self.name}"
