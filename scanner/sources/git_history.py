"""Source: a git repository, its whole history on every ref plus its uncommitted working tree.

1. Attribution: one `git log --all -m --raw` pass maps each blob to every path it appeared at and
   the first commit that introduced it there (merges included, against each parent); one
   `git rev-list --all --objects` pass adds blobs reachable only from a tag.
2. Content: every unique blob is read once, streamed through a single `git cat-file --batch`
   process, and yielded as one chunk standing for all its (commit, path) locations.
3. Working tree: modified and untracked files are read from disk (commit = None, state = live).
A location is `live` when HEAD has that blob at that path, else `historical`. Binary and
over-size blobs are counted as skips; a missing or unreadable object is a counted skip too, and a
failing git command makes the scan incomplete."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import ConfigError
from scanner.model import Chunk, Location, ScanStats
from scanner.sources.base import SourceOptions, is_binary, read_file

EMPTY_BLOB = "0" * 40


def git(repo: Path, *args: str, check: bool = True) -> bytes:
    """Run one git command in `repo`; a failure raises `GitError` with git's first error line."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                          stdin=subprocess.DEVNULL, check=False)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {msg[-1] if msg else proc.returncode}")
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
        if tail.endswith(".git"):
            tail = tail[:-4]
        if "://" in tail:
            tail = tail.split("://", 1)[1].split("/", 1)[-1]
        elif ":" in tail and not tail.startswith("/"):
            tail = tail.split(":", 1)[1]
        else:
            return Path(tail).name
        if tail and "/" in tail:
            return tail
    name = repo.resolve().name
    return name[:-4] if name.endswith(".git") else name


@dataclass(slots=True)
class Attribution:
    """blob id → {path: first commit that introduced this blob at this path}."""

    first: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def add(self, blob: str, path: str, commit: str | None) -> None:
        paths = self.first.setdefault(blob, {})
        if path not in paths or (paths[path] is None and commit is not None):
            paths[path] = commit


def parse_log_raw(out: bytes, attribution: Attribution) -> None:
    """Parse `git log --format=%x01%H --raw -z` output (oldest commit first)."""
    commit: str | None = None
    fields = out.split(b"\0")
    i = 0
    n = len(fields)
    while i < n:
        item = fields[i]
        if item.startswith(b"\x01") or b"\x01" in item:
            # the format line may be glued to the newline that ends the previous commit
            commit = item[item.index(b"\x01") + 1:].strip().decode()
            item = b""
        item = item.strip(b"\n")
        if item.startswith(b":"):
            parts = item[1:].split(b" ")
            status = parts[4][:1] if len(parts) > 4 else b""
            new = parts[3].decode() if len(parts) > 3 else EMPTY_BLOB
            path = fields[i + 1].decode("utf-8", "surrogateescape") if i + 1 < n else ""
            i += 2
            if status in (b"A", b"M", b"T") and new != EMPTY_BLOB and parts[1][:3] != b"160":
                attribution.add(new, path, commit)
            continue
        i += 1


class GitHistorySource:
    """Every unique blob of every ref, once, attributed to all its (commit, path) pairs."""

    def __init__(self, path: str | Path, options: SourceOptions | None = None, *,
                 name: str | None = None) -> None:
        self.repo = Path(path)
        if not self.repo.exists():
            raise ConfigError(f"{path}: no such file or directory")
        if not is_git_repo(self.repo):
            raise ConfigError(f"{path}: not a git repository")
        self.options = options or SourceOptions()
        # forges pass `owner/name`: a cached clone's origin may be a local or mirror URL
        self.name = name or repo_name(self.repo)
        self.bare = not (self.repo / ".git").exists()

    # -- discovery -------------------------------------------------------------------------
    def attribution(self, stats: ScanStats) -> Attribution:
        attr = Attribution()
        if git(self.repo, "rev-parse", "--is-shallow-repository", check=False).strip() == b"true":
            stats.errors.append(f"{self.name}: shallow clone, history before the graft is not scanned")
        try:
            log = git(self.repo, "log", "--all", "--reverse", "-m", "--raw", "--no-renames",
                      "--no-abbrev", "-z", "--format=%x01%H")
        except GitError as exc:
            if b"does not have any commits" in str(exc).encode() or "bad default revision" in str(exc):
                return attr
            raise
        parse_log_raw(log, attr)
        # blobs reachable only from a tag (or a tag's tree) appear in no commit diff
        try:
            objs = git(self.repo, "rev-list", "--all", "--objects", "--missing=print",
                       "--filter=object:type=blob", "--filter-provided-objects")
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            objs = b""
        for line in objs.splitlines():
            if line.startswith(b"?"):
                stats.skip("missing-object")
                continue
            sha, _, path = line.decode("utf-8", "surrogateescape").partition(" ")
            if path and sha not in attr.first:
                attr.add(sha, path, None)
        return attr

    def head_tree(self) -> set[tuple[str, str]]:
        try:
            out = git(self.repo, "ls-tree", "-r", "-z", "HEAD")
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
        """id → (type, size) for the given ids, in one `cat-file --batch-check` call."""
        data = "".join(i + "\n" for i in ids).encode()
        proc = subprocess.run(["git", "-C", str(self.repo), "cat-file", "--batch-check"],
                              input=data, capture_output=True, check=False)
        out: dict[str, tuple[str, int]] = {}
        for line in proc.stdout.decode().splitlines():
            parts = line.split()
            if len(parts) == 3:
                out[parts[0]] = (parts[1], int(parts[2]))
        return out

    # -- content ---------------------------------------------------------------------------
    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        try:
            attr = self.attribution(stats)
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        live = self.head_tree()
        sizes = self.blob_sizes(attr.first)
        wanted: list[str] = []
        for sha in attr.first:
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
                continue
            stats.blobs += 1
            locs = tuple(sorted(
                Location("git", self.name, path, commit, None,
                         "live" if (sha, path) in live else "historical")
                for path, commit in attr.first[sha].items()))
            yield Chunk(data, locs, hint=locs[0].path if locs else "")
        yield from self.worktree(stats)

    def read_blobs(self, ids: list[str], stats: ScanStats) -> Iterator[tuple[str, bytes]]:
        """Stream blobs through one `git cat-file --batch` process."""
        if not ids:
            return
        proc = subprocess.Popen(["git", "-C", str(self.repo), "cat-file", "--batch"],
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

    def worktree(self, stats: ScanStats) -> Iterator[Chunk]:
        """Modified and untracked files of a non-bare repository, read from disk."""
        if self.bare:
            return
        try:
            out = git(self.repo, "status", "--porcelain", "-z", "--untracked-files=all")
        except GitError as exc:
            stats.errors.append(f"{self.name}: {exc}")
            return
        entries = out.split(b"\0")
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            code, path = entry[:2], entry[3:].decode("utf-8", "surrogateescape")
            if code[:1] in (b"R", b"C"):
                i += 1  # the original path follows a rename/copy
            if b"D" in code:
                continue
            loc = Location("git", self.name, path, None, None, "live")
            chunk = read_file(self.repo / path, path, self.name, self.options, stats, loc)
            if chunk is not None:
                yield chunk
