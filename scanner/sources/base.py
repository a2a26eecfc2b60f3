"""What every source is: something that yields `Chunk`s and records what it skipped or failed on
in a `ScanStats`. Sources never print and never exit; a part that fails is an entry in
`stats.errors` (the scan becomes incomplete), a whole source that cannot start raises."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scanner.errors import ConfigError, SourceError, where
from scanner.model import Chunk, InventoryFact, KnownMatch, Location, Match, ScanStats, fingerprint
from scanner.parsing import TooComplex, json_loads

if TYPE_CHECKING:
    from scanner.engine import Engine

BINARY_SNIFF = 8192
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
MAX_EXPORT_SIZE = 1024 * 1024 * 1024
"""Largest export file (`vault-export:`, `jira-export:`, `confluence-export:`) read."""
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git", ".hg", ".svn", "node_modules", "vendor", "third_party", ".venv", "venv",
    "__pycache__", ".tox", ".mypy_cache", ".pytest_cache", ".sprawlscan",
    "*.png", "*.jpg", "*.jpeg", "*.gif", "*.ico", "*.bmp", "*.webp", "*.tiff",
    "*.woff", "*.woff2", "*.ttf", "*.otf", "*.eot",
    "*.zip", "*.gz", "*.tgz", "*.bz2", "*.xz", "*.7z", "*.rar", "*.jar", "*.whl",
    "*.exe", "*.dll", "*.so", "*.dylib", "*.a", "*.o", "*.class", "*.pyc",
    "*.mp3", "*.mp4", "*.mov", "*.avi", "*.wav", "*.flac", "*.pdf",
    "*.min.js.map",
)
"""Paths skipped by default (VCS folders, vendored code, media and archives); `--exclude` adds to
them, `--no-default-excludes` drops them."""


BlobPaths = dict[str, dict[str, str | None]]
"""blob id → {path: first commit that introduced it there (None: reachable only from a tag)}."""


class BlobCache(Protocol):
    """Git blobs already scanned with the same rules (backed by the datastore): a source does not
    read them again but yields a `carried` chunk, whose findings come from here."""

    def warm(self, repo: str) -> bool:
        """True when the cache holds blobs of `repo` (a cold cache: scan everything, fast)."""
        ...

    def known(self, repo: str, blob: str) -> bool:
        """True when `blob` of `repo` was scanned with the current rules."""
        ...

    def record(self, repo: str, blob: str, matches: Sequence[Match]) -> None:
        """`blob` was read and scanned (binary blobs with no matches): remember what it held."""
        ...

    def matches(self, repo: str, blob: str) -> Sequence[KnownMatch]:
        """What a known blob held when it was scanned."""
        ...

    def attribution(self, repo: str, refs_state: str) -> tuple[BlobPaths, int] | None:
        """blob → {path: first commit} and the missing-object count, as computed when the
        repository's refs were in `refs_state`; None when unknown."""
        ...

    def save_attribution(self, repo: str, refs_state: str, first: BlobPaths,
                         missing: int) -> None:
        """Remember an attribution pass (the history walk is the rescan's main cost)."""
        ...


@dataclass(frozen=True, slots=True)
class RepoSlice:
    """One repository's part of a blob cache, carried to a unit task (which never opens the
    datastore): the blobs scanned before with the same rules and what each held."""

    known: dict[str, list[KnownMatch]]
    """blob id → its remembered matches (empty list: scanned, nothing found)."""
    attribution: tuple[str, BlobPaths, int] | None = None
    """The last attribution pass: (refs state, blob → paths, missing objects)."""
    etags: dict[str, Stored] = field(default_factory=dict)
    """API request URL → its stored ETag and what its answer held: a 304 carries them over."""


@dataclass(frozen=True, slots=True)
class Stored:
    """An API answer remembered by the datastore: its ETag, the hits found in it (without
    plaintext) and the records it gave (secret names)."""

    etag: str
    hits: list[Hit] = field(default_factory=list)
    facts: list[InventoryFact] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What all sources share."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Files and blobs larger than this many bytes are skipped (counted as `too-large`)."""
    history: bool = True
    """Scan a git repository's whole history (False: its working tree only)."""
    exclude: tuple[str, ...] | None = None
    """Glob patterns of paths to skip; None means the default list."""
    blob_cache: BlobCache | None = None
    """Incremental rescans: blobs this cache knows are neither read nor scanned again."""
    workers: int | None = None
    """Engine processes inside one history scan (None: `scanner.parallel.default_workers()`;
    1 inside a unit task, which is itself one of many running in parallel)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One independently scannable part of a source (a repository of an org, the org's own
    secrets and gists, the plain files of a folder): the task `scanner.units` dispatches. Small
    and picklable; `Source.scan_unit(unit, engine, stats)` scans it wherever it runs."""

    target: str
    """The target as the user typed it (the task resolves it into the source again)."""
    key: str = ""
    """Which part of the source (`""`: all of it)."""
    name: str = ""
    """How messages name it (`acme/agent`, `github:acme owner`)."""
    data: Any = None
    """What the source needs to scan the part without listing again (a repository's API JSON)."""
    repos: tuple[str, ...] | None = ()
    """Git repositories (blob-cache names) the part scans; None: not known before it runs."""


Meter = Callable[[str, int, int, int, int], None]
"""Progress inside one source: (source name, items done, items in all, bytes done, bytes in
all). The git history source reports blobs; the CLI draws it as a progress bar."""

Hit = tuple[Match | KnownMatch, tuple[Location, ...]]
"""A match (or one carried over from an earlier scan, without plaintext) and every place its
chunk stands for."""


class Source(Protocol):
    """A place to crawl. A source may also offer `scan(engine, stats) -> Iterator[Hit]` when it
    can scan faster than chunk by chunk (the git history source does); it must find the same.
    A source made of independent parts may offer `units(stats) -> list[Unit]` and
    `scan_unit(unit, engine, stats) -> Iterator[Hit]`: scanning every unit in order finds what
    `scan` finds, with the same stats and `inventory_facts`."""

    name: str

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Yield everything to scan; record skips and partial failures in `stats`."""
        ...


def scan_chunks(chunks: Iterable[Chunk], engine: Engine, stats: ScanStats,
                cache: BlobCache | None = None) -> Iterator[Hit]:
    """The generic loop: every chunk through the engine, then through the structured-config pass
    (`scanner.manifests`: k8s Secrets decoded, declared secret names). A `carried` chunk gives the
    matches the cache remembers for its blob; a git blob read for the first time is remembered; a
    chunk with `previous` content gives only the secrets that content did not hold."""
    for chunk in chunks:
        repo = chunk.locations[0].container if chunk.locations else ""
        if chunk.carried:
            if cache is not None:
                for known in cache.matches(repo, chunk.blob):
                    yield known, chunk.locations
            continue
        stats.chunks += 1
        stats.bytes += len(chunk.data)
        try:
            matches = engine.scan(chunk.data)
            matches.extend(structured(chunk, engine, matches, stats))
        except Exception as exc:
            where(exc, f"scanning {unit_name(chunk)}")
            raise
        if chunk.blob and cache is not None and chunk.previous is None:
            cache.record(repo, chunk.blob, matches)
        if chunk.previous is not None and matches:
            old = replace(chunk, data=chunk.previous, previous=None)
            before = engine.scan(old.data)
            before.extend(structured(old, engine, before, stats))
            old_fps = {fingerprint(m.secret) for m in before}
            matches = [m for m in matches if fingerprint(m.secret) not in old_fps]
        if engine.timeouts:
            stats.rule_timeouts(engine.take_timeouts(), unit_name(chunk))
        for match in matches:
            yield match, chunk.locations


def structured(chunk: Chunk, engine: Engine, matches: list[Match], stats: ScanStats) -> list[Match]:
    """The structured-config pass over one chunk; a document over a parsing bound (nesting,
    alias expansion) is a counted skip of that pass (the rules still ran over its text)."""
    from scanner.manifests import extra_matches

    try:
        return extra_matches(chunk, engine, matches)
    except TooComplex as exc:
        stats.skip(exc.reason)
        return []


def unit_name(chunk: Chunk) -> str:
    """How an error names a chunk: its first location (source, container, path, commit)."""
    if not chunk.locations:
        return chunk.hint or "a chunk"
    loc = chunk.locations[0]
    name = f"{loc.source} {loc.container + ':' if loc.container else ''}{loc.path}"
    return name + (f" @{loc.commit[:10]}" if loc.commit else "")


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB marks binary content (git's own heuristic)."""
    return b"\0" in data[:BINARY_SNIFF]


def read_json_export(file: str | Path, what: str, limit: int = MAX_EXPORT_SIZE) -> Any:
    """The parsed JSON of an export file; an unreadable, non-regular (a device, a FIFO), oversized
    or malformed one is a `ConfigError` naming the file (exit 2). A document nested deeper than
    `scanner.parsing.MAX_DEPTH` raises `TooComplex` (the source records it and is skipped)."""
    path = Path(file)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{file}: {what} is not a regular file")
        if st.st_size > limit:
            raise ConfigError(f"{file}: {what} is larger than {limit} bytes")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)  # the size may change under us: never read past the bound
        if len(data) > limit:
            raise ConfigError(f"{file}: {what} is larger than {limit} bytes")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"{file}: cannot read {what} ({reason})") from None
    try:
        return json_loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: malformed {what} JSON (line {exc.lineno}: {exc.msg})") from None


def refuse_export(file: str | Path, exc: TooComplex, stats: ScanStats) -> None:
    """An export over a parsing bound: counted under its reason, and the scan is incomplete."""
    stats.skip(exc.reason)
    stats.errors.append(f"{file}: not scanned: {exc}")


def read_file(path: Path, rel: str, container: str, options: SourceOptions, stats: ScanStats,
              location: Location | None = None) -> Chunk | None:
    """One file as a chunk, or None with the reason counted in `stats`."""
    try:
        if path.is_symlink():
            stats.skip("symlink")
            return None
        st = path.stat()
        if not path.is_file():
            stats.skip("not-regular-file")
            return None
        if st.st_size > options.max_file_size:
            stats.skip("too-large")
            return None
        with path.open("rb") as fh:
            head = fh.read(BINARY_SNIFF)
            if is_binary(head):  # decided on the first 8 KiB: a big binary file is never read
                stats.skip("binary")
                return None
            rest = fh.read(max(0, options.max_file_size - len(head)) + 1)
    except OSError:
        stats.skip("unreadable")
        return None
    data = head + rest
    if len(data) > options.max_file_size:  # grew since stat
        stats.skip("too-large")
        return None
    loc = location or Location("file", container, rel)
    return Chunk(data, (loc,), hint=rel)


__all__ = [
    "BINARY_SNIFF",
    "DEFAULT_MAX_FILE_SIZE",
    "BlobCache",
    "BlobPaths",
    "Hit",
    "Source",
    "SourceError",
    "RepoSlice",
    "SourceOptions",
    "Unit",
    "is_binary",
    "read_file",
    "scan_chunks",
]
