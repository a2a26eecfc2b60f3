"""Source: a directory tree (or single files) on disk. Gives one chunk per regular text file; a git
repository found in the tree is scanned with its history by the git source (unless history is
off).

A nested repository whose git directory (a `.git` file's `gitdir:`, a symlinked `.git`) lies
outside the scanned folder is not followed: its folder is read as plain files
(`gitdir-outside-root`), so scanning a folder never reads another repository's history.

Skips, each counted: excluded paths (vendored code, VCS folders, binary file types), symlinks (never
followed, so nothing outside the tree is read), binary content, files over the size limit and
unreadable files."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path

from scanner.errors import ConfigError
from scanner.model import Chunk, InventoryFact, ScanStats
from scanner.engine import Engine
from scanner.sources.base import (DEFAULT_EXCLUDES, Hit, SourceOptions, Unit, read_file,
                                  scan_chunks)



def excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    """True when any path component, or the whole relative path, matches a pattern (`fnmatch`
    semantics; the patterns compiled once into one regex)."""
    match = _compiled(tuple(patterns)).match
    return bool(match(rel)) or any(match(part) for part in rel.split("/"))


@functools.lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)")


def gitdir_inside(repo: Path, root: Path) -> bool:
    """Whether the git directory of the work tree `repo` (a `.git` folder, or a `.git` file's
    `gitdir:`, and a linked worktree's `commondir`) lies inside `root`: a nested repository is
    read only from inside the folder being scanned (`scanner.gitcmd` on `.git` files)."""
    top = root.resolve()
    dot = repo / ".git"
    try:
        if dot.is_file() and not dot.is_symlink():
            line = dot.read_text(encoding="utf-8", errors="replace").splitlines()[0]
            if not line.startswith("gitdir:"):
                return False
            gitdir = (repo / line.removeprefix("gitdir:").strip()).resolve()
        else:
            gitdir = dot.resolve()
        common = gitdir / "commondir"
        dirs = [gitdir]
        if common.is_file():
            dirs.append((gitdir / common.read_text(encoding="utf-8").strip()).resolve())
    except (OSError, IndexError):
        return False
    return all(d.is_relative_to(top) for d in dirs)


class FilesSource:
    """Every regular file under `root` (or `root` itself when it is a file)."""

    def __init__(self, root: str | Path, options: SourceOptions | None = None) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise ConfigError(f"{root}: no such file or directory")
        self.options = options or SourceOptions()
        self.name = str(root)
        self.excludes = DEFAULT_EXCLUDES if self.options.exclude is None else self.options.exclude
        self.repos: list[Path] = []
        """Git repositories met by the last `chunks()` walk, scanned by `scan()` with history."""
        self._records: list[InventoryFact] | None = None

    @property
    def inventory_facts(self) -> list[InventoryFact]:
        """The graph's records of this tree (config and code files; each git repository inside
        it by its own name, at HEAD), read once when the pipeline asks for them."""
        if self._records is None:
            from scanner.sources.records import target_records

            self._records = target_records(self.root, self.options.max_file_size, self.excludes)
        return self._records

    def scan(self, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        """Files through the engine; git repositories found on the way through their own fast
        history scan."""
        from scanner.sources.git_history import GitHistorySource

        yield from scan_chunks(self.chunks(stats), engine, stats)
        for repo in self.repos:
            yield from GitHistorySource(repo, self.options).scan(engine, stats)

    def units(self, stats: ScanStats) -> list[Unit]:
        """The plain files, then each git repository met on the way (scanned with history)."""
        if self.root.is_file() or not self.options.history:
            return [Unit(self.name, "", self.name, repos=())]
        for _ in self.walk(ScanStats(), read=False):
            pass
        return [Unit(self.name, "files", self.name, repos=())] + [
            Unit(self.name, "repo:" + repo.relative_to(self.root).as_posix(), str(repo),
                 repos=(_repo_name(repo),)) for repo in self.repos]

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        from scanner.sources.git_history import GitHistorySource

        if unit.key.startswith("repo:"):
            self._records = []  # the tree's records (this repository's too) come with "files"
            return GitHistorySource(self.root / unit.key[5:], self.options).scan(engine, stats)
        if unit.key == "files":
            return scan_chunks(self.chunks(stats), engine, stats)
        return self.scan(engine, stats)

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Plain files; git repositories met on the way are listed in `self.repos`, not read."""
        return self.walk(stats, read=True)

    def walk(self, stats: ScanStats, read: bool) -> Iterator[Chunk]:
        """`chunks()`; with `read` False, only lists `self.repos` (no file is opened)."""
        self.repos = []
        if self.root.is_file():
            chunk = read_file(self.root, self.root.name, "", self.options, stats) if read else None
            if chunk is not None:
                yield chunk
            return
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            base = Path(dirpath)
            rel_dir = base.relative_to(self.root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            if self.options.history and base != self.root and (base / ".git").exists():
                if gitdir_inside(base, self.root):
                    dirnames[:] = []
                    self.repos.append(base)
                    continue
                stats.skip("gitdir-outside-root")  # read as a plain folder instead
            keep = []
            for d in sorted(dirnames):
                if excluded(rel_dir + d, self.excludes):
                    stats.skip("excluded")
                elif (base / d).is_symlink():
                    stats.skip("symlink")
                else:
                    keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames) if read else ():
                rel = rel_dir + name
                if excluded(rel, self.excludes):
                    stats.skip("excluded")
                    continue
                chunk = read_file(base / name, rel, self.name, self.options, stats)
                if chunk is not None:
                    yield chunk


def _repo_name(repo: Path) -> str:
    from scanner.sources.git_history import repo_name

    return repo_name(repo)
