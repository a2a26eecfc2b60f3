"""What every source is: something that yields `Chunk`s and records what it skipped or failed on
in a `ScanStats`. Sources never print and never exit; a part that fails is an entry in
`stats.errors` (the scan becomes incomplete), a whole source that cannot start raises."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from scanner.errors import SourceError
from scanner.model import Chunk, Location, Match, ScanStats

if TYPE_CHECKING:
    from scanner.engine import Engine

BINARY_SNIFF = 8192
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What all sources share."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Files and blobs larger than this many bytes are skipped (counted as `too-large`)."""
    history: bool = True
    """Scan a git repository's whole history (False: its working tree only)."""
    exclude: tuple[str, ...] | None = None
    """Glob patterns of paths to skip; None means the default list."""


Hit = tuple[Match, tuple[Location, ...]]
"""A match and every place its chunk stands for."""


class Source(Protocol):
    """A place to crawl. A source may also offer `scan(engine, stats) -> Iterator[Hit]` when it
    can scan faster than chunk by chunk (the git history source does); it must find the same."""

    name: str

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Yield everything to scan; record skips and partial failures in `stats`."""
        ...


def scan_chunks(chunks: Iterable[Chunk], engine: Engine, stats: ScanStats) -> Iterator[Hit]:
    """The generic loop: every chunk through the engine, then through the structured-config pass
    (`scanner.manifests`: k8s Secrets decoded, declared secret names)."""
    from scanner.manifests import extra_matches

    for chunk in chunks:
        stats.chunks += 1
        stats.bytes += len(chunk.data)
        matches = engine.scan(chunk.data)
        matches.extend(extra_matches(chunk, engine, matches))
        for match in matches:
            yield match, chunk.locations


def is_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB marks binary content (git's own heuristic)."""
    return b"\0" in data[:BINARY_SNIFF]


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
        data = path.read_bytes()
    except OSError:
        stats.skip("unreadable")
        return None
    if is_binary(data):
        stats.skip("binary")
        return None
    loc = location or Location("file", container, rel)
    return Chunk(data, (loc,), hint=rel)


__all__ = ["BINARY_SNIFF", "DEFAULT_MAX_FILE_SIZE", "Source", "SourceError", "SourceOptions",
           "Hit", "is_binary", "read_file", "scan_chunks"]
