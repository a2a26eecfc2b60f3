"""Source: a git repository, its whole history on every ref plus its uncommitted working tree.

1. Attribution: one `git log --all --reflog -c --raw` pass maps each blob to every path it appeared
   at and the first commit that introduced it there (merges included: what a merge itself
   introduced); one `git rev-list --all --reflog --objects` pass adds blobs reachable only from a
   tag. Then every object no ref, reflog or index reaches: commits no ref reaches (dangling, or
   left by a rewrite, still fetchable by id from a forge) give their blobs paths, and the other
   unreachable blobs stand alone (`path` empty, the blob id in the location's attributes).
2. Content: every unique blob is read once, streamed through a single `git cat-file --batch`
   process, and yielded as one chunk standing for all its (commit, path) locations. The fast
   path (`scan`) reads them in pack order instead, on every core, in segments (`WorkerPool`).
3. Working tree: modified and untracked files are read from disk (commit = None, state = live).
A location is `live` when HEAD has that blob at that path, `unreachable` when no ref or reflog
reaches it, else `historical` (reflog-only commits are history). Binary and
over-size blobs are counted as skips; a missing or unreadable object is a counted skip too, and a
failing git command makes the scan incomplete."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import threading
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from scanner import gitcmd
from scanner.bindings import binding_kinds
from scanner.engine import Engine
from scanner.errors import ConfigError
from scanner.model import Chunk, InventoryFact, Location, Match, ScanStats
from scanner.parallel import WorkerPool, default_workers
from scanner.sources.base import (
    Unit,
    BlobCache,
    Hit,
    Meter,
    SourceOptions,
    is_binary,
    read_file,
    scan_chunks,
)

EMPTY_BLOB_B = b"0" * 40


# Bounded pack mapping: each `cat-file` process's RSS stays near 100 MB on a 4 GB history instead
# of the pack size. A 64 MiB delta-base cache would save each process ~7% of its CPU on langgraph
# (1.93 -> 1.80 s user) but lift the whole scan's memory (every process of the tree, summed) from
# ~450 to ~500-540 MB RSS (PSS 340 -> 390-400 MB): memory is kept, the time target holds without it.
GIT_LIMITS = tuple(x for item in gitcmd.PACK_LIMITS for x in ("-c", item))
PIPE_SIZE = 1 << 20
MAX_REFLOG_BYTES = 16 << 20
"""Reflogs read to show that no entry names a tree or blob (more: `rev-list --objects` runs)."""
MAX_MISSING_RETRIES = 64
"""`cat-file --batch-check` restarts after objects a partial clone would fetch (then: incomplete)."""
F_SETPIPE_SZ = 1031


def git_cmd(repo: Path, *args: str) -> list[str]:
    """argv of one git command in `repo`, with `gitcmd`'s safety overrides and the pack limits."""
    return gitcmd.command(repo, *args, config=GIT_LIMITS[1::2])


def widen_pipe(stream: object) -> None:
    """A 1 MiB pipe instead of 64 KiB: far fewer wake-ups when streaming gigabytes (Linux)."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[attr-defined]
    except (ImportError, OSError, AttributeError):
        pass


def git(repo: Path, *args: str, check: bool = True) -> bytes:
    """Run one git command in `repo`; a failure raises `GitError` with git's first error line."""
    proc = gitcmd.run(repo, *args, config=GIT_LIMITS[1::2])
    if check and proc.returncode != 0:
        raise GitError(f"git {gitcmd.subcommand(args)} failed in {repo}: "
                       f"{gitcmd.reason(proc.stderr) or proc.returncode}")
    return proc.stdout


class GitError(Exception):
    """A git command failed."""


def is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or (path.is_dir() and (path / "HEAD").is_file()
                                        and (path / "objects").is_dir())


def repo_name(repo: Path) -> str:
    """`owner/name` from the `origin` remote (GitLab keeps the group path), else the folder name."""
    try:
        url = git(repo, "config", "--get", "remote.origin.url").decode().strip()
    except GitError:
        url = ""
    if url:
        tail = url.rstrip("/")
        tail = tail.removesuffix(".git")
        if "://" in tail:
            tail = tail.split("://", 1)[1].split("/", 1)[-1]
        elif ":" in tail and not tail.startswith("/"):
            tail = tail.split(":", 1)[1]
        else:
            return Path(tail).name
        if tail and "/" in tail:
            return tail
    name = repo.resolve().name
    return name.removesuffix(".git")


UNREACHABLE_KEY = "~unreachable"
"""Key under which a cached attribution lists its unreachable blobs (never a blob id)."""


@dataclass(slots=True)
class Attribution:
    """blob id → {path: first commit that introduced this blob at this path}."""

    first: dict[str, dict[str, str | None]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    """Blobs no ref, reflog or index reaches: their paths (if any) come from unreachable commits."""

    def to_cache(self) -> dict[str, dict[str, str | None]]:
        if not self.unreachable:
            return self.first
        return {**self.first, UNREACHABLE_KEY: dict.fromkeys(sorted(self.unreachable))}

    @classmethod
    def from_cache(cls, first: dict[str, dict[str, str | None]]) -> Attribution:
        first = dict(first)
        return cls(first, set(first.pop(UNREACHABLE_KEY, {})))

    def add(self, blob: str, path: str, commit: str | None) -> None:
        paths = self.first.setdefault(blob, {})
        if path not in paths or (paths[path] is None and commit is not None):
            paths[path] = commit


LOG_FORMAT = "--format=%x01%H"
FACTS_FORMAT = gitcmd.HISTORY_WALK[-1]
"""The attribution walk's format when it also collects each commit's author and date."""
Facts = dict[str, tuple[tuple[str, str], ...]]
WALK = gitcmd.HISTORY_WALK
"""The attribution's history walk (`parse_log_raw` reads it)."""

# One token of `git log -c --raw -z` output per match, so `findall` walks it field by field in C:
# a header (with its name and date fields in FACTS_FORMAT), a raw line with its path (the groups
# of a well-formed one), any other raw line with its path, or any other field.
_RAW_LINE = rb":+(?:[0-7]{6} )*([0-7]{6}) (?:[0-9a-f]{40} )+([0-9a-f]{40}) ([A-Z]+)(?:\0([^\0]*))?(?:\0|\Z)"
_OTHER = rb"|:[^\0]*\0[^\0]*(?:\0|\Z)|[^\0]*(?:\0|\Z))"
_TOKENS = re.compile(rb"\n*(?:(\x01[^\0]*)()()()(?:\0|\Z)|" + _RAW_LINE + _OTHER)
_FACTS_TOKENS = re.compile(rb"\n*(?:(\x01[^\0]*)(?:\0([^\0]*)(?:(\0)([^\0]*))?)?(?:\0|\Z)|"
                           + _RAW_LINE + _OTHER)


def parse_log_raw(out: bytes, attribution: Attribution, facts: Facts | None = None,
                  links: set[str] | None = None) -> None:
    """Parse `git log --reverse -c --raw -z` output (oldest commit first) in LOG_FORMAT, or in
    FACTS_FORMAT with `facts` (commit → author and date, for `commit_facts`).

    `-c` gives merges as combined diffs: only paths whose result differs from every parent, which
    is exactly what a merge itself introduced; every other blob is attributed to the ordinary
    commit that brought it. (`-m` would repeat each merged change once per parent.) The output
    is read field by field (`-z` ends each with NUL, which no name or path can hold): a header
    is followed by its name and date fields, a raw line by its path, so a name or path holding
    the header mark cannot pass for a commit. A submodule's commit (a gitlink, mode 160000) is
    attributed like a blob (the scan finds no such blob and passes it by); `links` collects them."""
    first = attribution.first
    names: dict[bytes, str] = {}  # a path comes back in many commits: decoded once
    commit: str | None = None
    for header, author, dated, date, mode, new, status, raw_path in (
            _TOKENS if facts is None else _FACTS_TOKENS).findall(out):
        if new:
            if commit is None or new == EMPTY_BLOB_B or not (
                    b"A" in status or b"M" in status or b"T" in status):
                continue
            if mode == b"160000" and links is not None:
                links.add(new.decode())
            path = names.get(raw_path)
            if path is None:
                path = names[raw_path] = raw_path.decode("utf-8", "surrogateescape")
            sha = new.decode()
            paths = first.get(sha)
            if paths is None:
                first[sha] = {path: commit}
            elif path not in paths or paths[path] is None:
                paths[path] = commit
        elif header:
            commit = header[1:].strip().decode("ascii", "replace")
            if dated and facts is not None:
                facts[commit] = (("author", author.decode("utf-8", "replace")),
                                 ("date", date.strip().decode("ascii", "replace")))


SEGMENT_BYTES = 16 << 20
"""Blob bytes per pool task: small enough for an even spread and a live progress bar."""
POOL_AFTER = 64 << 20
"""Below this many blob bytes the scan stays in this process (no pool start-up)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of blob ids in pack order: one task of the worker pool."""

    repo: str
    ids: tuple[str, ...]
    size: int
    """Their bytes."""
    yaml: frozenset[str] = frozenset()
    """Those a YAML file name of the history names (known once the history walk is read): the
    structured-config pass runs on them here as on a YAML file, not after the scan."""


@dataclass(slots=True)
class SegmentResult:
    """What scanning a segment found; only ids and matches travel back, never content."""

    blobs: int
    size: int
    binary: list[str] = field(default_factory=list)
    missing: int = 0
    found: dict[str, list[Match]] = field(default_factory=dict)
    error: str | None = None
    timeouts: dict[str, list[str]] = field(default_factory=dict)
    """Blob id → ids of the rules that ran out of time on it."""
    bindable: list[str] = field(default_factory=list)
    """Text blobs the binding pass may read (`scanner.bindings.bindable`)."""
    bound: dict[str, dict[str, Bound]] = field(default_factory=dict)
    """Blob id → kind of file (`code`, `json-doc`, `yaml`) → what the structured-config pass
    found in the blob under such a name (only where it found something)."""
    yaml: list[str] = field(default_factory=list)
    """Text blobs of `Segment.yaml`: the pass ran on them as on a YAML file."""


@dataclass(frozen=True, slots=True)
class Bound:
    """What the structured-config pass gave on one blob under one kind of file name."""

    matches: list[Match]
    skipped: tuple[tuple[str, int], ...] = ()
    """Documents over a parsing bound (`ScanStats.skipped` entries)."""
    timeouts: tuple[str, ...] = ()
    """Rules that ran out of time there."""


class BatchReader:
    """One long-lived `git cat-file --batch` of a repository: each process (the scanning one and
    every pool worker) keeps its own, so its delta-base cache lasts across segments."""

    def __init__(self, repo: str) -> None:
        self.pid = os.getpid()
        self.proc = gitcmd.popen(Path(repo), "cat-file", "--batch", config=GIT_LIMITS[1::2],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, bufsize=1 << 20)
        assert self.proc.stdout is not None
        widen_pipe(self.proc.stdout)

    def read(self, ids: tuple[str, ...]) -> Iterator[tuple[str, bytes | None]]:
        """(id, content) per id, in order; None for a missing object. Raises GitError when
        git stops answering."""
        stdin, out = self.proc.stdin, self.proc.stdout
        assert stdin is not None and out is not None
        request = "".join(i + "\n" for i in ids).encode()

        def feed() -> None:  # a thread: git answers while the request is still being written
            try:
                stdin.write(request)
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            for sha in ids:
                header = out.readline()
                if not header:
                    raise GitError("git cat-file stopped early")
                parts = header.split()
                if len(parts) < 3 or parts[1] == b"missing":
                    yield sha, None
                    continue
                data = out.read(int(parts[2]))
                out.read(1)
                yield sha, data
        finally:
            writer.join()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


_READERS: dict[str, BatchReader] = {}


def close_readers() -> None:
    """End this process's `cat-file` readers (a forked worker never touches its parent's)."""
    for repo, reader in list(_READERS.items()):
        if reader.pid == os.getpid():
            reader.close()
        del _READERS[repo]


def scan_segment(engine: Engine, seg: Segment) -> SegmentResult:
    """Read a segment's blobs through this process's reader and scan the text ones."""
    result = SegmentResult(len(seg.ids), seg.size)
    reader = _READERS.get(seg.repo)
    if reader is None or reader.pid != os.getpid():
        reader = _READERS[seg.repo] = BatchReader(seg.repo)
    try:
        for sha, data in reader.read(seg.ids):
            if data is None:
                result.missing += 1
            elif is_binary(data):
                result.binary.append(sha)
            else:
                matches = engine.scan(data)
                if matches:
                    result.found[sha] = matches
                keywords = engine.last_keywords
                if engine.timeouts:
                    result.timeouts[sha] = engine.take_timeouts()
                bindable, kinds = binding_kinds(data, engine, keywords)
                if bindable:
                    result.bindable.append(sha)
                if sha in seg.yaml:
                    kinds += ("yaml",)
                    result.yaml.append(sha)
                for kind in kinds:  # here, while the bytes are at hand: never read again
                    bound = _bind(engine, data, matches, kind)
                    if bound is not None:
                        result.bound.setdefault(sha, {})[kind] = bound
    except GitError as exc:
        reader.close()
        del _READERS[seg.repo]
        result.error = str(exc)
    return result


def _bind(engine: Engine, data: bytes, matches: list[Match], kind: str) -> Bound | None:
    """The structured-config pass on a blob under a file name of `kind`, None when it gives
    nothing."""
    from scanner.manifests import BINDING_NAMES, YAML_NAME
    from scanner.sources.base import structured

    stats = ScanStats()
    found = structured(Chunk(data, (), hint=BINDING_NAMES.get(kind, YAML_NAME)), engine, matches,
                       stats)
    spent = tuple(engine.take_timeouts()) if engine.timeouts else ()
    if not found and not stats.skipped and not spent:
        return None
    return Bound(found, tuple(stats.skipped.items()), spent)


# the listing's lines are `<type><id> <size>`: a pattern that starts with a literal is searched
# for as one (in C), and no other line holds "blob" or "commit" (ids are hex)
_BLOB_LINE = re.compile(rb"blob([0-9a-f]+) (\d+)\n")
_COMMIT_LINE = re.compile(rb"commit([0-9a-f]+) \d+\n")


@dataclass(slots=True)
class Listing:
    """The object database as `cat-file --batch-all-objects --unordered` lists it."""

    blobs: list[tuple[str, int]]
    """(id, size) of every blob, in pack order."""
    commits: list[str]
    """Every commit id (reachable or not)."""
    complete: bool = True
    """False when git failed part-way: what it listed is scanned, but not taken as all."""

    @classmethod
    def parse(cls, out: bytes) -> Listing:
        """From `gitcmd.OBJECT_LISTING` output (matched in C: a history lists hundreds of
        thousands of objects, most of them trees)."""
        return cls([(sha.decode(), int(size)) for sha, size in _BLOB_LINE.findall(out)],
                   [sha.decode() for sha in _COMMIT_LINE.findall(out)])


class Walk:
    """The attribution's history walk (WALK), started as early as the scan starts (or before
    its imports, by `scanner.early`): git walks the history on another core while this process
    lists the object store and starts its workers (`early.Background`: output to a file)."""

    def __init__(self, repo: Path) -> None:
        from scanner import early

        self.repo = repo
        self.git = (early.take(repo, WALK, GIT_LIMITS[1::2])
                    or early.Background(repo, WALK, GIT_LIMITS[1::2]))

    def output(self) -> bytes:
        """What git wrote, once it is done; a failure raises `GitError` as `git()` does."""
        code, out, err = self.git.wait()
        if code != 0:
            raise GitError(f"git {gitcmd.subcommand(WALK)} failed in {self.repo}: "
                           f"{gitcmd.reason(err) or code}")
        return out

    def close(self) -> None:
        """Stop git if it still runs and drop its output (once read, or when not wanted)."""
        self.git.close()


class GitHistorySource:
    """Every unique blob of every ref, once, attributed to all its (commit, path) pairs."""

    def __init__(self, path: str | Path, options: SourceOptions | None = None, *,
                 name: str | None = None, records: bool = False) -> None:
        self.repo = Path(path)
        if not self.repo.exists():
            raise ConfigError(f"{path}: no such file or directory")
        if not is_git_repo(self.repo):
            raise ConfigError(f"{path}: not a git repository")
        self.options = options or SourceOptions()
        # forges pass `owner/name`: a cached clone's origin may be a local or mirror URL
        self.name = name or repo_name(self.repo)
        self.bare = not (self.repo / ".git").exists()
        self.meter: Meter | None = None
        """Told of blobs scanned as the history scan goes (set by the pipeline)."""
        self._meta: dict[str, tuple[tuple[str, str], ...]] | None = None
        self._meta_lock = threading.Lock()
        self._records: list[InventoryFact] | None = None
        self.prefetch = records
        """Read the graph's records during the history scan (in its discovery thread) rather
        than after it: set for a scan target, not for the repositories a forge or folder meets."""

    @property
    def inventory_facts(self) -> list[InventoryFact]:
        """The graph's records of this repository (its HEAD config and code files), read once
        when the pipeline asks for them, never from history blobs."""
        if self._records is None:
            from scanner.sources.records import repo_records

            self._records = repo_records(self.repo, self.name, self.options.max_file_size)
        return self._records

    def units(self, stats: ScanStats) -> list[Unit]:
        """One unit: the whole repository (its engine pool works inside it)."""
        return [Unit(str(self.repo), "", self.name, repos=(self.name,))]

    # -- discovery -------------------------------------------------------------------------
    def attribution(self, stats: ScanStats,
                    walked: Callable[[Attribution], None] | None = None, *,
                    walk: Walk | None = None, listing: Listing | None = None) -> Attribution:
        """Every blob's paths and first commits; `walked` is called with it as soon as the
        history walk is read (most blobs: those of no commit diff come after). `walk` is the
        history walk already started (`Walk`), `listing` the object store already listed
        (`list_objects`): neither is made again."""
        attr = Attribution()
        if git(self.repo, "rev-parse", "--is-shallow-repository", check=False).strip() == b"true":
            stats.errors.append(f"{self.name}: shallow clone, history before the graft is not scanned")
        try:
            log = (walk or Walk(self.repo)).output()
        except GitError as exc:
            if b"does not have any commits" in str(exc).encode() or "bad default revision" in str(exc):
                return attr
            raise
        facts: Facts = {}
        links: set[str] = set()
        parse_log_raw(log, attr, facts, links)
        del log
        if walked is not None:
            walked(attr)
        with self._meta_lock:  # the same walk `commit_facts` would make again
            if self._meta is None:
                self._meta = facts
        missing = self.walk_saw_all(attr, listing, links)
        if missing is None:
            self.add_tagged(attr, stats)
        elif missing:
            stats.skip("missing-object", missing)
        self.add_unreachable(attr, stats, listing, facts.keys())
        return attr

    def add_tagged(self, attr: Attribution, stats: ScanStats) -> None:
        """Blobs reachable only from a tag (or a tag's tree) or a reflog entry, which appear in no
        commit diff, and the objects missing from the store (counted as skipped)."""
        try:
            objs = git(self.repo, "rev-list", "--all", "--reflog", "--objects", "--missing=print",
                       "--filter=object:type=blob", "--filter-provided-objects")
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            objs = b""
        tagged: dict[str, str] | None = None
        known = attr.first
        for line in objs.splitlines():
            if line.startswith(b"?"):
                stats.skip("missing-object")
                continue
            raw_sha, _, raw_path = line.partition(b" ")
            sha = raw_sha.decode("utf-8", "surrogateescape")
            if sha in known:
                continue
            path = raw_path.decode("utf-8", "surrogateescape")
            if not path:  # a ref that points straight at a blob: name it by the ref
                tagged = self.blob_refs() if tagged is None else tagged
                path = tagged.get(sha, "")
            if path:
                attr.add(sha, path, None)

    def walk_saw_all(self, attr: Attribution, listing: Listing | None,
                     links: set[str]) -> int | None:
        """The number of blobs missing from the object store when `add_tagged` could add nothing
        else to what the history walk attributed, so that its `rev-list --objects` (a walk over
        every tree of the history) need not run; None when it might. It could add nothing when
        the store's listing is complete and holds no blob the walk did not name (none reached
        some other way), and every ref and every reflog entry names a commit (or a tag of one),
        so no tree or blob hangs off a ref where a blob or a missing object could hide; then
        what it would count missing is what the walk named (submodule commits, `links`, aside)
        and the listing does not hold. Anything this cannot check (linked worktrees, a
        reftable, a reflog it cannot read whole) says None."""
        if listing is None or not listing.complete:
            return None
        listed = {sha for sha, _ in listing.blobs}
        if not listed <= attr.first.keys():
            return None
        refs = gitcmd.run(self.repo, "for-each-ref", "--format=%(objecttype) %(*objecttype)")
        if refs.returncode != 0 or any(line not in (b"commit ", b"tag commit")
                                       for line in refs.stdout.splitlines()):
            return None
        if not self._reflogs_name_commits(set(listing.commits)):
            return None
        return len(attr.first.keys() - listed - links)

    def _reflogs_name_commits(self, commits: set[str]) -> bool:
        """Every old and new id of every reflog entry is a commit of `commits` (or none)."""
        gitdir = self.repo if self.bare else self.repo / ".git"
        if gitdir.is_symlink() or not gitdir.is_dir() or any(
                (gitdir / name).exists() for name in ("commondir", "worktrees", "reftable")):
            return False
        logs = gitdir / "logs"
        if not logs.exists():
            return True
        if logs.is_symlink() or not logs.is_dir():
            return False
        total = 0
        for dirpath, dirnames, files in os.walk(logs):
            for name in dirnames + files:
                path = Path(dirpath, name)
                if path.is_symlink():
                    return False
                if name not in files:
                    continue
                data = _read_regular(path, MAX_REFLOG_BYTES - total)
                if data is None:
                    return False
                total += len(data)
                for line in data.splitlines():
                    ids = line.split(b" ", 2)[:2]
                    if len(ids) < 2 or any(i != EMPTY_BLOB_B and i.decode("ascii", "replace") not in commits
                                           for i in ids):
                        return False
        return True

    def add_unreachable(self, attr: Attribution, stats: ScanStats, listing: Listing | None = None,
                        walked: Iterable[str] = ()) -> None:
        """Every blob of the object store (packed or loose) the walk above did not reach: those
        that an unreachable commit introduced get its path and id, the rest stand alone. Blobs
        staged in the index are not unreachable (the working-tree pass reads their files).
        `listing` is the object store as listed before (else it is listed here); `walked` the
        commits the walk showed (all reachable: only the others are looked up)."""
        if listing is None or not listing.complete:
            try:
                out = git(self.repo, *gitcmd.OBJECT_LISTING)
            except GitError as exc:
                stats.errors.append(f"{self.name}: {exc}")
                return
            listing = Listing.parse(out)
        known = attr.first
        blobs = [sha for sha, _ in listing.blobs if sha not in known]
        if not blobs:
            return
        if not self.bare:
            staged = git(self.repo, "ls-files", "-s", "-z", check=False)
            index = {e.split(b" ")[1].decode() for e in staged.split(b"\0") if e.count(b" ") >= 2}
            blobs = [b for b in blobs if b not in index]
        loose = set(blobs)
        shown = set(walked)
        dangling = [c for c in listing.commits if c not in shown]
        if dangling and loose:  # a commit the walk did not show may still be reachable
            reachable = set(git(self.repo, "rev-list", "--all", "--reflog").decode().split())
            dangling = [c for c in dangling if c not in reachable]
        if dangling and loose:
            # each unreachable commit against its parents, oldest first
            proc = gitcmd.run(self.repo, "log", "--no-walk=sorted", "--reverse", "--stdin", "-c",
                              "--raw", "--no-renames", "--no-abbrev", "-z", *gitcmd.DIFF_SAFETY,
                              LOG_FORMAT, config=GIT_LIMITS[1::2],
                              input="".join(c + "\n" for c in dangling).encode())
            if proc.returncode != 0:
                stats.errors.append(f"{self.name}: git log of unreachable commits failed")
            found = Attribution()
            parse_log_raw(proc.stdout, found)
            for sha, paths in found.first.items():
                if sha in loose:
                    attr.first[sha] = paths
        for sha in blobs:
            attr.first.setdefault(sha, {})
        attr.unreachable.update(blobs)

    def blob_refs(self) -> dict[str, str]:
        """blob id → name of a ref (a tag, usually) that points at it directly."""
        out = git(self.repo, "for-each-ref", "--format=%(objectname) %(*objectname) %(refname)",
                  check=False).decode("utf-8", "surrogateescape")
        refs: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split(" ")
            if len(parts) == 3:
                refs.setdefault(parts[1] or parts[0], parts[2])
        return refs

    def head_tree(self, rev: str = "HEAD") -> set[tuple[str, str]]:
        try:
            out = git(self.repo, "ls-tree", "-r", "-z", rev)
        except GitError:
            return set()
        live: set[tuple[str, str]] = set()
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            parts = meta.split(b" ")
            if len(parts) == 3 and parts[1] == b"blob":
                live.add((parts[2].decode(), path.decode("utf-8", "surrogateescape")))
        return live

    def blob_sizes(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """id → (type, size) for the given ids, in one `cat-file --batch-check` call. In a partial
        clone only the objects present are asked for (asking for a missing one would make git
        fetch it); should git still die at an object, that object is `missing` and the ids after
        it are asked again, so none of them is lost; git failing over and over raises `GitError`."""
        todo = list(ids)
        if todo and gitcmd.is_partial_clone(self.repo):
            present = gitcmd.present_objects(self.repo)
            todo = [i for i in todo if i in present]
        out: dict[str, tuple[str, int]] = {}
        retries = 0
        while todo:
            proc = gitcmd.run(self.repo, "cat-file", "--batch-check",
                              input="".join(i + "\n" for i in todo).encode())
            answered = 0
            for line in proc.stdout.decode().splitlines():
                parts = line.split()
                if len(parts) == 3:
                    out[parts[0]] = (parts[1], int(parts[2]))
                answered += 1
            if proc.returncode == 0 or answered >= len(todo):
                break
            retries += 1
            if retries > MAX_MISSING_RETRIES:   # git itself is failing, not one missing object
                raise GitError(f"git cat-file failed in {self.repo}: "
                               f"{gitcmd.reason(proc.stderr) or proc.returncode}")
            out[todo[answered]] = ("missing", 0)
            todo = todo[answered + 1:]
        return out

    # -- incremental rescans (a `BlobCache` in the options) --------------------------------
    def refs_state(self) -> str:
        """What the attribution depends on: every ref and HEAD (changes with any commit, fetch,
        branch or tag)."""
        refs = git(self.repo, "for-each-ref", "--format=%(objectname) %(refname)")
        head = git(self.repo, "rev-parse", "-q", "--verify", "HEAD", check=False)
        # unreachable objects come and go without a ref moving (a gc, a fetch by id)
        store = git(self.repo, "count-objects", "-v", check=False)
        return hashlib.sha256(b"v2\0" + refs + b"\0" + head + b"\0" + store).hexdigest()

    def cached_attribution(self, cache: BlobCache, stats: ScanStats,
                           walked: Callable[[Attribution], None] | None = None) -> Attribution:
        """The attribution from the cache when no ref moved since it was computed, else computed
        (and offered to the cache when the pass was clean); `walked` as for `attribution`."""
        state = self.refs_state()
        hit = cache.attribution(self.name, state)
        if hit is not None:
            first, missing = hit
            if missing:
                stats.skip("missing-object", missing)
            return Attribution.from_cache(first)
        sub = ScanStats()
        attr = self.attribution(sub, walked)
        stats.merge(sub)
        if not sub.errors:
            cache.save_attribution(self.name, state, attr.to_cache(),
                                   sub.skipped.get("missing-object", 0))
        return attr

    # -- content ---------------------------------------------------------------------------
    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        cache = self.options.blob_cache
        try:
            attr = self.attribution(stats) if cache is None else self.cached_attribution(cache, stats)
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        live = self.head_tree()
        todo = list(attr.first)
        if cache is not None:
            # incremental: a blob scanned before with the same rules is not read again; its
            # findings are carried over (attributed to today's paths and live/historical state)
            fresh = []
            for sha in todo:
                if cache.known(self.name, sha):
                    stats.skip("already-scanned")
                    locs = self.locations(sha, attr, live)
                    yield Chunk(b"", locs, hint=locs[0].path if locs else "", blob=sha, carried=True)
                else:
                    fresh.append(sha)
            todo = fresh
        from scanner.manifests import handles

        try:
            sizes = self.blob_sizes(todo)
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        wanted: list[str] = []
        for sha in todo:
            kind, size = sizes.get(sha, ("missing", 0))
            if kind == "missing":
                stats.skip("missing-object")
            elif kind != "blob":
                continue
            elif size > self.options.max_file_size:
                stats.skip("too-large")
            else:
                wanted.append(sha)
        for sha, data in self.read_blobs(wanted, stats):
            if is_binary(data):
                stats.skip("binary")
                if cache is not None:
                    cache.record(self.name, sha, ())
                continue
            stats.blobs += 1
            locs = self.locations(sha, attr, live)
            # a path the structured-config pass reads (as the fast path picks it), else the first
            hint = next((loc.path for loc in locs if handles(loc.path)), locs[0].path if locs else "")
            yield Chunk(data, locs, hint=hint, blob=sha)
        yield from self.worktree(stats)

    def read_blobs(self, ids: list[str], stats: ScanStats) -> Generator[tuple[str, bytes], None, None]:
        """Stream blobs through one `git cat-file --batch` process."""
        if not ids:
            return
        proc = gitcmd.popen(self.repo, "cat-file", "--batch", config=GIT_LIMITS[1::2],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, bufsize=1 << 20)
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def feed() -> None:
            try:
                for i in range(0, len(ids), 4096):
                    stdin.write("".join(s + "\n" for s in ids[i:i + 4096]).encode())
                stdin.close()
            except (BrokenPipeError, ValueError):
                pass

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        out = proc.stdout
        try:
            for _ in ids:
                header = out.readline()
                if not header:
                    stats.errors.append(f"{self.name}: git cat-file stopped early")
                    break
                parts = header.split()
                if len(parts) < 3 or parts[1] == b"missing":
                    stats.skip("missing-object")
                    continue
                size = int(parts[2])
                data = out.read(size)
                out.read(1)
                yield parts[0].decode(), data
        finally:
            out.close()
            proc.kill() if proc.poll() is None else None
            proc.wait()
            writer.join(timeout=5)

    def scan(self, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        """The fast path, same findings as scanning `chunks()`: discovery (git log, rev-list,
        ls-tree: work done by git processes) runs in a thread while every blob of the object
        database is read in pack order (the order `cat-file --batch-all-objects --unordered`
        lists, the floor of any history scan) and scanned; discovery attributes them
        (unreachable ones too); only matched blobs are remembered. Past POOL_AFTER bytes the
        blobs are cut into segments of SEGMENT_BYTES scanned by a `WorkerPool` on every core,
        each worker reading through its own long-lived `cat-file --batch` (a blob's content
        never crosses a process boundary); `meter` is told as segments finish.

        With a blob cache that already knows this repository, the incremental path (`chunks()`:
        only blobs the cache does not know are read) is taken instead; a cold cache takes the
        fast path and is given every blob it scanned."""
        cache = self.options.blob_cache
        if cache is not None and cache.warm(self.name):
            yield from scan_chunks(self.chunks(stats), engine, stats, cache)
            return
        found: dict[str, list[Match]] = {}
        seen: dict[str, int] = {}
        too_large: set[str] = set()
        binary: set[str] = set()
        bind: set[str] = set()
        bound: dict[str, dict[str, Bound]] = {}
        side = ScanStats()
        discovered: list[tuple[Attribution, set[tuple[str, str]]]] = []
        failure: list[str] = []
        timeouts: dict[str, list[str]] = {}
        yaml_named: list[frozenset[str]] = []
        """Blobs a YAML name of the history names, once the walk is read (a segment sent after
        that runs their YAML pass where it reads them: `Segment.yaml`)."""
        yaml_done: set[str] = set()

        def walked(attr: Attribution) -> None:
            yaml_named.append(frozenset(sha for sha, paths in attr.first.items()
                                        if any(_yaml_name(p) for p in paths)))

        def discover() -> None:
            try:
                attr = (self.attribution(side, walked, walk=walk, listing=listing) if cache is None
                        else self.cached_attribution(cache, side, walked))
                if not yaml_named:  # from the cache: no walk
                    walked(attr)
                discovered.append((attr, self.head_tree()))
                if self.prefetch:  # read now, alongside the blob stream
                    if any(f.name.endswith((".yml", ".yaml")) for f in self.inventory_facts):
                        # the graph will read workflows there: its modules load now, not at the end
                        import scanner.graph.collect  # noqa: F401
            except GitError as exc:
                failure.append(f"{self.name}: {exc}")
            except BaseException as exc:  # noqa: BLE001 - re-raised in the scanning thread below
                crashed.append(exc)
            finally:
                if walk is not None:
                    walk.close()

        crashed: list[BaseException] = []
        limit = self.options.max_file_size
        # git walks the history while the object store is listed and the pool starts
        walk = Walk(self.repo) if cache is None else None
        try:
            listing = self.list_objects(stats)
            listed = listing.blobs
            seen.update(listed)
            too_large.update(sha for sha, size in listed if size > limit)
            segments = list(self.segments([(sha, size) for sha, size in listed if size <= limit]))
            total = sum(seg.size for seg in segments)
            # the pool forks before the discovery thread starts (see `WorkerPool`)
            pool = WorkerPool(engine, 1 if total < POOL_AFTER
                              else self.options.workers or default_workers())
        except BaseException:
            if walk is not None:
                walk.close()
            raise
        thread = threading.Thread(target=discover, daemon=True)
        thread.start()
        done = [0, 0]

        def tasks() -> Iterator[Segment]:
            for seg in segments:
                if yaml_named:
                    seg = replace(seg, yaml=yaml_named[0].intersection(seg.ids))
                yield seg

        try:
            for result in pool.map(scan_segment, tasks()):
                yaml_done.update(result.yaml)
                binary.update(result.binary)
                bind.update(result.bindable)
                bound.update(result.bound)
                found.update(result.found)
                timeouts.update(result.timeouts)
                if result.missing:
                    stats.skip("missing-object", result.missing)
                if result.error:
                    stats.errors.append(f"{self.name}: {result.error}")
                done[0] += result.blobs
                done[1] += result.size
                if self.meter is not None:
                    self.meter(self.name, done[0], len(seen) - len(too_large), done[1], total)
        finally:
            pool.close()
            close_readers()
        thread.join()
        if crashed:  # one line from the CLI, never a traceback printed by a worker thread
            raise crashed[0]
        stats.merge(side)
        if failure:
            stats.errors.extend(failure)
            return
        attr, live = discovered[0]
        for sha, rule_ids in timeouts.items():
            paths = attr.first.get(sha)
            stats.rule_timeouts(rule_ids, f"git {self.name}:{min(paths) if paths else 'blob ' + sha}")
        for sha in attr.first:
            if sha not in seen:
                # a tree reached only through a tag is listed by rev-list but is no blob
                continue
            if sha in too_large:
                stats.skip("too-large")
            elif sha in binary:
                stats.skip("binary")
            else:
                stats.blobs += 1
                stats.chunks += 1
                stats.bytes += seen[sha]
        for sha, matches in found.items():
            if sha not in attr.first:
                continue  # staged in the index only: the working-tree pass reads the file
            locs = self.locations(sha, attr, live)
            for m in matches:
                yield m, locs
        extra: dict[str, list[Match]] = {}
        for sha, m, locs in self.structured_hits(engine, attr, live, found,
                                                  seen.keys() - too_large - binary, stats, bind,
                                                  bound, yaml_done):
            extra.setdefault(sha, []).append(m)
            yield m, locs
        if cache is not None:  # a cold cache learns every attributed blob read
            for sha in attr.first.keys() & (seen.keys() - too_large):
                cache.record(self.name, sha, found.get(sha, []) + extra.get(sha, []))
        yield from scan_chunks(self.worktree(stats), engine, stats, cache)

    def structured(self, engine: Engine, attr: Attribution, live: set[tuple[str, str]],
                   found: dict[str, list[Match]], text_blobs: set[str]) -> Iterator[Hit]:
        """The structured-config pass (`scanner.manifests`) needs a file name, which streamed
        blobs do not carry: re-read the few blobs that sit at such a name and run it on them."""
        for _, m, locs in self.structured_hits(engine, attr, live, found, text_blobs):
            yield m, locs

    def structured_hits(self, engine: Engine, attr: Attribution, live: set[tuple[str, str]],
                        found: dict[str, list[Match]], text_blobs: set[str],
                        stats: ScanStats | None = None, bind: set[str] | None = None,
                        bound: dict[str, dict[str, Bound]] | None = None,
                        yaml_done: set[str] | frozenset[str] = frozenset()
                        ) -> Iterator[tuple[str, Match, tuple[Location, ...]]]:
        """`structured`, each hit with the blob it came from (for the blob cache); documents over
        a parsing bound are counted in `stats`. With `bind` (the blobs the scan saw pass the
        binding pass's gate), code and plain JSON, read for the binding pass only, are wanted
        only when in it: not every source file of the history. With `bound` (what the scan's
        binding pass found in those, `scan_segment`), they are not read again at all, nor are
        the blobs of `yaml_done` under a YAML name (the scan ran the pass on them as on YAML):
        only the other blobs named as `.env`, YAML or config JSON files are."""
        from scanner.manifests import BINDING_NAMES, kind_of
        from scanner.sources.base import structured

        wanted = structured_wanted(attr.first, text_blobs, bind)
        if not wanted:
            return
        kinds = {sha: kind_of(path) for sha, path in wanted.items()}
        done = set() if bound is None else {
            sha for sha, kind in kinds.items()
            if kind in BINDING_NAMES or (kind == "yaml" and sha in yaml_done)}
        blobs = self.read_blobs(sorted(wanted.keys() - done), ScanStats())
        try:
            pending = next(blobs, None)
            for sha in sorted(wanted):
                if sha in done:
                    assert bound is not None
                    got = bound.get(sha, {}).get(kinds[sha])
                    if got is None:
                        continue
                    matches, spent = got.matches, list(got.timeouts)
                    locs = self.locations(sha, attr, live)
                    for reason, n in got.skipped:
                        if stats is not None:
                            stats.skip(reason, n)
                else:
                    if pending is None or pending[0] != sha:
                        continue  # missing from the object database
                    locs = self.locations(sha, attr, live)
                    chunk = Chunk(pending[1], locs, hint=wanted[sha])
                    pending = next(blobs, None)
                    matches = structured(chunk, engine, found.get(sha, []), stats or ScanStats())
                    spent = engine.take_timeouts() if engine.timeouts and stats is not None else []
                for m in matches:
                    yield sha, m, locs
                if spent and stats is not None:
                    stats.rule_timeouts(spent, f"git {self.name}:{wanted[sha]}")
        finally:
            blobs.close()

    def locations(self, sha: str, attr: Attribution,
                  live: set[tuple[str, str]]) -> tuple[Location, ...]:
        paths = attr.first[sha]
        if not paths:  # an unreachable blob no unreachable commit names
            return (Location("git", self.name, "", None, None, "unreachable",
                             attributes=(("blob", sha),)),)
        unreachable = sha in attr.unreachable
        return tuple(sorted(
            Location("git", self.name, path, commit, None,
                     "unreachable" if unreachable else "live" if (sha, path) in live else "historical",
                     attributes=self.commit_facts(commit))
            for path, commit in paths.items()))

    def list_blobs(self, stats: ScanStats) -> list[tuple[str, int]]:
        """(id, size) of every blob in the object database, in pack order (`--unordered`: the
        order git reads fastest, deltas next to their bases)."""
        return self.list_objects(stats).blobs

    def list_objects(self, stats: ScanStats) -> Listing:
        """The blobs (`list_blobs`) and commits of the object database."""
        from scanner import early

        started = early.take(self.repo, gitcmd.OBJECT_LISTING, GIT_LIMITS[1::2])
        if started is not None:
            code, out, _ = started.wait()
        else:
            proc = gitcmd.run(self.repo, *gitcmd.OBJECT_LISTING, config=GIT_LIMITS[1::2])
            code, out = proc.returncode, proc.stdout
        if code != 0:
            stats.errors.append(f"{self.name}: git cat-file failed listing the object database")
        listing = Listing.parse(out)
        listing.complete = code == 0
        return listing

    def segments(self, blobs: list[tuple[str, int]]) -> Iterator[Segment]:
        """Runs of about SEGMENT_BYTES of consecutive blobs: the tasks of the worker pool."""
        ids: list[str] = []
        size = 0
        for sha, n in blobs:
            ids.append(sha)
            size += n
            if size >= SEGMENT_BYTES:
                yield Segment(str(self.repo), tuple(ids), size)
                ids, size = [], 0
        if ids:
            yield Segment(str(self.repo), tuple(ids), size)

    def commit_facts(self, commit: str | None) -> tuple[tuple[str, str], ...]:
        """A commit's author (`Name <email>`) and author date, for reports: read for every commit
        of the repository by the attribution walk, or by one `git log` on first use when the
        attribution came from the cache (commits no ref reaches give nothing)."""
        if commit is None:
            return ()
        with self._meta_lock:
            if self._meta is None:
                self._meta = {}
                try:
                    out = git(self.repo, "log", "--all", "--reflog", "-z",
                              "--format=%H%x00%an <%ae>%x00%aI", check=False)
                except GitError:
                    out = b""
                fields = out.split(b"\0")
                for i in range(0, len(fields) - 2, 3):
                    sha = fields[i].strip().decode("ascii", "replace")
                    self._meta[sha] = (("author", fields[i + 1].decode("utf-8", "replace")),
                                       ("date", fields[i + 2].decode("ascii", "replace")))
        return self._meta.get(commit, ())

    def read_all_objects(self, stats: ScanStats, limit: int
                         ) -> Iterator[tuple[str, bytes, int, bytes | None]]:
        """(id, type, size, content or None when over `limit`) for every object, in pack order."""
        proc = gitcmd.popen(self.repo, "cat-file", "--batch-all-objects", "--batch", "--unordered",
                            config=GIT_LIMITS[1::2], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1 << 20)
        assert proc.stdout is not None
        widen_pipe(proc.stdout)
        out = proc.stdout
        try:
            while True:
                header = out.readline()
                if not header:
                    break
                parts = header.split()
                if len(parts) < 3:
                    continue
                size = int(parts[2])
                if size > limit:
                    while size > 0:  # a pipe cannot seek: drain it in slices
                        size -= len(out.read(min(size, 1 << 20)) or b"x" * size)
                    out.read(1)
                    yield parts[0].decode(), parts[1], int(parts[2]), None
                    continue
                data = out.read(size)
                out.read(1)
                yield parts[0].decode(), parts[1], size, data
        finally:
            out.close()
            if proc.poll() is None:
                proc.kill()
            if proc.wait() not in (0, -9):
                stats.errors.append(f"{self.name}: git cat-file failed reading the object database")

    def worktree(self, stats: ScanStats) -> Iterator[Chunk]:
        """Files of a non-bare repository whose content on disk differs from HEAD (staged or
        not) and untracked files, read from disk. Plumbing only (`diff-index`, `diff-files`,
        `ls-files`): `git status` would refresh and write the index, which runs the
        repository's fsmonitor, filters and hooks (see `scanner.gitcmd`)."""
        if self.bare:
            return
        tree = ("--work-tree", str(self.repo.resolve()))
        try:
            head = git(self.repo, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False).strip()
            changed = git(self.repo, *tree, "diff-files", "--name-only", "-z", "--no-renames",
                          *gitcmd.DIFF_SAFETY).split(b"\0")
            if head:
                changed += git(self.repo, *tree, "diff-index", "--cached", "--name-only", "-z",
                               "--no-renames", *gitcmd.DIFF_SAFETY, head.decode()).split(b"\0")
            untracked = git(self.repo, *tree, "ls-files", "-o", "-z", "--exclude-standard"
                            ).split(b"\0")
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        paths = sorted({p.decode("utf-8", "surrogateescape") for p in changed if p})
        committed = {path: sha for sha, path in self.head_tree()} if paths and head else {}
        for path in paths:
            full = self.repo / path
            if not os.path.lexists(full) or full.is_dir():
                continue  # deleted, or a submodule
            if path in committed and _same_blob(full, committed[path]):
                continue  # stat-dirty only: the same content as HEAD
            loc = Location("git", self.name, path, None, None, "live")
            chunk = read_file(full, path, self.name, self.options, stats, loc)
            if chunk is not None:
                yield chunk
        for raw in sorted(set(untracked)):
            if not raw:
                continue
            path = raw.decode("utf-8", "surrogateescape")
            loc = Location("git", self.name, path, None, None, "live")
            chunk = read_file(self.repo / path, path, self.name, self.options, stats, loc)
            if chunk is not None:
                yield chunk


def structured_wanted(first: dict[str, dict[str, str | None]], text_blobs: Collection[str],
                      bind: Collection[str] | None) -> dict[str, str]:
    """Blob → the first of its paths (in `first`'s order) the structured-config pass reads it
    under, for the text blobs that have one; code and plain JSON names count only for blobs of
    `bind` (those the binding pass may read; None: all)."""
    from scanner.manifests import BINDING_NAMES, kind_of

    # a path holds many blobs over the history: each is looked at once, and most blobs are
    # passed by in C (`isdisjoint`)
    named = {p: k for p in set().union(*first.values()) if (k := kind_of(p))}
    every = named.keys()
    plain = {p for p, k in named.items() if k not in BINDING_NAMES}
    wanted: dict[str, str] = {}
    for sha, paths in first.items():
        if sha in text_blobs:
            names = every if bind is None or sha in bind else plain
            if not names.isdisjoint(paths):
                wanted[sha] = next(p for p in paths if p in names)
    return wanted


def _read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes, else None (a symlink, a FIFO or a
    device a repository planted is never followed, waited on or read without end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _yaml_name(path: str) -> bool:
    from scanner.manifests import kind_of

    return path[-4:].lower() in ("yaml", ".yml") and kind_of(path) == "yaml"


def _same_blob(path: Path, sha: str) -> bool:
    """Whether the file's bytes are the blob `sha` (git's object hash, SHA-1 or SHA-256)."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        data = path.read_bytes()
    except OSError:
        return False
    h = hashlib.sha256() if len(sha) == 64 else hashlib.sha1()
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest() == sha
