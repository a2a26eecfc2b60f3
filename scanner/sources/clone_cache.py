"""Forge helpers: bare mirror clones kept in a cache directory and reused across scans, so a
re-scan only fetches what changed (takes a clone URL and a cache path, gives a bare repository
that `GitHistorySource` scans); and the expansion of a forge crawl, a stream of API chunks and
repository histories, into chunks or into hits (histories through the git source's fast path);
`ForgeSource`, what the GitHub and GitLab sources share. Tokens travel in an HTTP header through
git's environment (`GIT_CONFIG_*`), never in a URL, a command line or the clone's config."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from scanner import gitcmd
from scanner.model import Chunk, Location, ScanStats
from scanner.sources.base import Hit, SourceOptions, scan_chunks
from scanner.sources.git_history import GitError, GitHistorySource, git

if TYPE_CHECKING:
    from scanner.engine import Engine

@dataclass(frozen=True, slots=True)
class Carried:
    """Hits carried over from the datastore (an API list answered 304 Not Modified): what the
    scan that stored its ETag found in it, without plaintext."""

    hits: tuple[Hit, ...]


Item = Union[Chunk, GitHistorySource, Carried]  # noqa: UP007 - a runtime alias
"""What a forge crawl yields: an API object's text, a cloned repository to scan, or hits carried
over (only when the crawl is scanned: `ForgeSource.chunks` turns carrying off)."""

DEFAULT_CACHE_DIR = Path(".sprawlscan") / "cache"


def cache_root(cache_dir: str | Path | None) -> Path:
    """`--cache-dir`, default `.sprawlscan/cache/` under the working directory."""
    return Path(cache_dir) if cache_dir else Path.cwd() / DEFAULT_CACHE_DIR


def clone_path(root: Path, forge: str, host: str, full_name: str) -> Path:
    """Where the mirror of `full_name` lives: `<root>/<forge>/<host>/<full/name>.git`."""
    safe = [p for p in full_name.split("/") if p not in ("", ".", "..")]
    host = host.replace(":", "_") or "local"
    return root.joinpath(forge, host, *safe[:-1], safe[-1] + ".git")


def name_problem(full_name: str) -> str | None:
    """Why a forge repository name cannot be a unit (None when it can): an empty, `.` or `..`
    segment, a control character or a backslash, or a leading `-`."""
    parts = full_name.split("/")
    if not full_name or any(p in ("", ".", "..") for p in parts):
        return "empty, '.' or '..' path segment"
    if any(ord(c) < 32 or c in "\\\x7f" for c in full_name) or full_name.startswith("-"):
        return "control character, backslash or leading '-'"
    return None


def basic_auth_header(user: str, token: str) -> str:
    raw = base64.b64encode(f"{user}:{token}".encode()).decode()
    return f"Authorization: Basic {raw}"


def mirror(url: str, dest: Path, auth_header: str | None = None, *, forge: str) -> Path:
    """Clone `url` as a bare mirror at `dest`, or fetch into it when it exists; raises `GitError`
    with git's last error line (which never holds the token: it is not in the URL). `url` must
    pass `gitcmd.check_clone_url` for the forge at `forge` (https, or http on loopback, on the
    forge's own host): a clone URL elsewhere never receives the token."""
    try:
        gitcmd.check_clone_url(url, forge)
    except gitcmd.UnsafeURL as exc:
        raise GitError(str(exc)) from None
    if (dest / "HEAD").is_file():
        git(dest, "remote", "set-url", "origin", url)
        args: tuple[str, ...] = ("fetch", "--prune", "--quiet", "origin")
        where: Path | None = dest
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        args, where = ("clone", "--mirror", "--quiet", "--", url, str(dest)), None
    auth = [("http.extraHeader", auth_header)] if auth_header else []
    proc = gitcmd.run(where, *args, config=gitcmd.clone_config(), env_config=auth)
    if proc.returncode != 0:
        raise GitError(f"git {args[0]} failed: {gitcmd.reason(proc.stderr) or proc.returncode}")
    return dest


def wiki(url: str, dest: Path, auth_header: str | None, name: str, options: SourceOptions,
         stats: ScanStats, *, forge: str) -> GitHistorySource | None:
    """A repository's wiki is a git repository beside it (`x.git` → `x.wiki.git`). A wiki that
    was never written cannot be cloned: that is a counted `wiki-unavailable` skip, not a failure."""
    wiki_url = (url.removesuffix(".git") if url.endswith(".git") else url) + ".wiki.git"
    try:
        mirror(wiki_url, dest, auth_header, forge=forge)
    except GitError:
        stats.skip("wiki-unavailable")
        return None
    return GitHistorySource(dest, options, name=name)


def head_files(repo: Path, prefix: str, suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(path, text) of the files directly under `prefix` on HEAD (the default branch of a mirror)
    whose names end with one of `suffixes`; empty when HEAD or the folder does not exist."""
    try:
        out = git(repo, "ls-tree", "-z", "HEAD", "--", prefix)
    except GitError:
        return []
    found = []
    for entry in out.split(b"\0"):
        meta, _, path = entry.partition(b"\t")
        parts = meta.split(b" ")
        name = path.decode("utf-8", "surrogateescape")
        if len(parts) == 3 and parts[1] == b"blob" and name.endswith(suffixes):
            text = git(repo, "cat-file", "blob", parts[2].decode()).decode("utf-8", "replace")
            found.append((name, text))
    return found


def expand_chunks(items: Iterable[Item], stats: ScanStats) -> Iterator[Chunk]:
    for item in items:
        if isinstance(item, GitHistorySource):
            yield from item.chunks(stats)
        elif isinstance(item, Carried):  # never made: `chunks()` crawls with carrying off
            raise TypeError("carried hits have no chunks")
        else:
            yield item


def expand_hits(items: Iterable[Item], engine: Engine, stats: ScanStats) -> Iterator[Hit]:
    for item in items:
        if isinstance(item, GitHistorySource):
            yield from item.scan(engine, stats)
        elif isinstance(item, Carried):
            yield from item.hits
        else:
            yield from scan_chunks((item,), engine, stats)


class ForgeSource:
    """What the forge sources share: text chunks under the size limit, progress lines, the two
    ways to run a crawl (`chunks()` / the faster `scan()`), tokens scrubbed from messages.
    Subclasses set `name`, `options`, `token`, `progress` and define `crawl(stats)`."""

    name: str
    options: SourceOptions
    token: str | None
    progress: Callable[[str], None] | None

    def crawl(self, stats: ScanStats) -> Iterator[Item]:
        raise NotImplementedError

    def scrub(self, text: str) -> str:
        return text.replace(self.token, "***") if self.token else text

    def chunk(self, text: str | bytes | None, loc: Location, stats: ScanStats, *,
              key: str = "") -> Iterator[Chunk]:
        if not text:
            return
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        if len(data) > self.options.max_file_size:
            stats.skip("too-large")
            return
        yield Chunk(data, (loc,), hint=key or loc.path, key=key)

    def report(self, msg: str) -> None:
        if self.progress:
            self.progress(f"{self.name}: {msg}")

    carry = True
    """Whether the crawl may yield `Carried` hits (not when it is turned into chunks)."""

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        self.carry = False
        return expand_chunks(self.crawl(stats), stats)

    def scan(self, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        """Same findings as `chunks()`; repository histories take the git source's fast path."""
        return expand_hits(self.crawl(stats), engine, stats)
