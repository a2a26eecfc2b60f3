"""Source: only what a change introduces to a git repository, for CI pre-merge gates.

- `StagedSource`: the index against HEAD (`git diff-index --cached`), what `git commit` would record;
  the pre-commit hook runs this. Locations are `live` with no commit.
- `RangeSource`: the commits of `BASE..HEAD` (a pull request; `--since-commit REV` is `REV..HEAD`),
  each changed blob attributed to the first commit in the range that introduced it at its path.
  Merge commits count only with what differs from every parent (conflict resolutions), so merging
  the target branch into a pull request does not bring the target's secrets in.

Each changed blob is one chunk whose `previous` is the blob it replaced: a secret already present
in the old version of the file is not new (editing a line next to a known secret is not a new
leak). A blob that the starting tree (HEAD, or BASE) already holds somewhere is not read at all:
a rename, copy or revert adds no content (counted as `unchanged-content`). Takes a repository path, gives `Chunk`s; reuses the history source's blob reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scanner import gitcmd
from scanner.engine import Engine
from scanner.errors import ConfigError
from scanner.model import Chunk, Location, ScanStats
from scanner.sources.base import Hit, SourceOptions, is_binary, scan_chunks
from scanner.sources.git_history import GitError, GitHistorySource, git, is_git_repo

EMPTY_BLOB = "0" * 40


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One changed path of one commit in `git log --raw -z` / `git diff --raw -z` output."""

    commit: str | None
    """The commit (None for `git diff`)."""
    old: str
    """Blob before the change (first parent's for a combined merge diff); zeros when added."""
    new: str
    """Blob after the change; zeros when deleted."""
    status: str
    """`A`, `M`, `T`, `D`... (a combined diff gives one letter per parent)."""
    path: str
    """Path in the tree."""
    gitlink: bool
    """A submodule entry (mode 160000): no blob to read."""

    @property
    def adds_content(self) -> bool:
        return (any(c in "AMT" for c in self.status) and self.new != EMPTY_BLOB
                and not self.gitlink)


def raw_entries(out: bytes) -> Iterator[RawEntry]:
    """Parse `--raw -z` output, commits marked by `--format=%x01%H` (combined diffs too)."""
    commit: str | None = None
    fields = out.split(b"\0")
    i = 0
    n = len(fields)
    while i < n:
        item = fields[i]
        if b"\x01" in item:
            # the format line may be glued to the newline that ends the previous commit
            commit = item[item.index(b"\x01") + 1:].strip().decode()
            item = b""
        item = item.strip(b"\n")
        if item.startswith(b":"):
            parents = len(item) - len(item.lstrip(b":"))
            parts = item[parents:].split(b" ")
            modes, shas = parts[:parents + 1], parts[parents + 1:2 * parents + 2]
            status = parts[2 * parents + 2] if len(parts) > 2 * parents + 2 else b""
            path = fields[i + 1].decode("utf-8", "surrogateescape") if i + 1 < n else ""
            i += 2
            if len(shas) == parents + 1:
                yield RawEntry(commit, shas[0].decode(), shas[-1].decode(), status.decode(), path,
                               modes[-1][:3] == b"160")
            continue
        i += 1


class _ChangeSource(GitHistorySource):
    """Shared reading: changed entries → chunks carrying their previous content."""

    def __init__(self, path: str | Path, options: SourceOptions | None = None) -> None:
        super().__init__(_toplevel(Path(path)), options)

    def entries(self, stats: ScanStats) -> list[RawEntry]:
        raise NotImplementedError

    def live_tree(self) -> set[tuple[str, str]]:
        return self.head_tree()

    def before_tree(self) -> set[str]:
        """Blob ids of the tree the change starts from: content already there is not new."""
        return {sha for sha, _ in self.head_tree()}

    def scan(self, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        """Chunk by chunk (never the whole-history fast path of the parent class)."""
        yield from scan_chunks(self.chunks(stats), engine, stats)

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        try:
            entries = [e for e in self.entries(stats) if e.adds_content]
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        live = self.live_tree()
        before = self.before_tree()
        moved = [e for e in entries if e.new in before]  # renames, copies, reverts
        if moved:
            stats.skip("unchanged-content", len(moved))
            entries = [e for e in entries if e.new not in before]
        # (new blob, old blob) → {path: first commit}
        groups: dict[tuple[str, str], dict[str, str | None]] = {}
        for e in entries:
            groups.setdefault((e.new, e.old), {}).setdefault(e.path, e.commit)
        ids = {b for pair in groups for b in pair if b != EMPTY_BLOB}
        try:
            sizes = self.blob_sizes(ids)
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        wanted = [b for b in sorted(ids) if sizes.get(b, ("missing", 0))[0] == "blob"
                  and sizes[b][1] <= self.options.max_file_size]
        for b in ids - set(wanted):
            stats.skip("too-large" if b in sizes else "missing-object")
        content = dict(self.read_blobs(wanted, stats))
        for (new, old), paths in sorted(groups.items()):
            data = content.get(new)
            if data is None:
                continue
            if is_binary(data):
                stats.skip("binary")
                continue
            stats.blobs += 1
            locs = tuple(sorted(
                Location("git", self.name, path, commit, None,
                         "live" if commit is None or (new, path) in live else "historical",
                         attributes=self.commit_facts(commit))
                for path, commit in paths.items()))
            previous = content.get(old) if old != EMPTY_BLOB else None
            yield Chunk(data, locs, hint=locs[0].path, blob=new, previous=previous)


def _toplevel(path: Path) -> Path:
    """A sub-directory of a work tree stands for its repository (`scan --staged` run anywhere)."""
    if not path.is_dir() or is_git_repo(path):
        return path
    try:
        top = git(path, "rev-parse", "--show-toplevel").decode().strip()
    except GitError:
        return path
    return Path(top) if top else path


class StagedSource(_ChangeSource):
    """What is staged in the index (the next commit)."""

    def __init__(self, path: str | Path, options: SourceOptions | None = None) -> None:
        super().__init__(path, options)
        if self.bare:
            raise ConfigError(f"{path}: a bare repository has no index to scan")

    def entries(self, stats: ScanStats) -> list[RawEntry]:
        head = git(self.repo, "rev-parse", "-q", "--verify", "HEAD^{tree}", check=False).strip()
        if not head:  # the first commit: everything staged is new
            head = git(self.repo, "hash-object", "-t", "tree", "--no-filters", "--stdin").strip()
        out = git(self.repo, "diff-index", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev",
                  *gitcmd.DIFF_SAFETY, head.decode())
        return list(raw_entries(out))


class RangeSource(_ChangeSource):
    """The commits of `BASE..HEAD`."""

    def __init__(self, path: str | Path, rev_range: str,
                 options: SourceOptions | None = None) -> None:
        super().__init__(path, options)
        base, sep, head = rev_range.partition("..")
        if not sep or not base or head.startswith(".") or base.startswith("-") \
                or head.startswith("-"):
            raise ConfigError(f"{rev_range}: expected a range BASE..HEAD")
        self.base, self.head = base, head or "HEAD"
        for rev in (self.base, self.head):
            try:
                git(self.repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
            except GitError:
                raise ConfigError(f"{self.name}: unknown revision {rev!r}") from None

    def entries(self, stats: ScanStats) -> list[RawEntry]:
        out = git(self.repo, "log", "--reverse", "--raw", "-z", "--no-renames", "--no-abbrev",
                  *gitcmd.DIFF_SAFETY, "--diff-merges=dense-combined", "--format=%x01%H",
                  "--end-of-options", f"{self.base}..{self.head}")
        return list(raw_entries(out))

    def live_tree(self) -> set[tuple[str, str]]:
        return self.head_tree(self.head)

    def before_tree(self) -> set[str]:
        return {sha for sha, _ in self.head_tree(self.base)}
