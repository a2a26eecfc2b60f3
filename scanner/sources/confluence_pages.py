"""Source: Confluence pages, live (`confluence:URL`, through atlassian-python-api, v1 REST
`rest/api/content`, which Cloud and Server / Data Center both serve) or saved
(`confluence-export:FILE`, that API's JSON written to disk). Gives chunks of page bodies.

Reads: the storage-format body of every page of the chosen spaces (`--spaces A,B`; default: every
space the credentials can list), scanned raw and with tags stripped (the stripped text keeps the
raw line breaks, so a secret found both ways is one location), and each page's older versions
(`content/ID?status=historical&version=N`, newest first, at most `max_versions`), marked
`historical`; blog posts the same way; every page's comments (`child/comment`, all depths).
Pages of results follow `_links.next` (start / limit). Not read: attachments, older versions of
comments. Locations: source `confluence`, container = space key, path = page id (`12345`,
`12345#v2` for version 2, `12345#comment-678` for a comment), url = the web link, the title in
`attributes`.

Units (`scanner.units`): one per space; the space list is read when the units are listed, and
the serial crawl runs the same units in order. Rejected credentials end one space (one line
naming it; the next space is tried, as a space can be closed to the token on its own)."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import regex

from scanner.errors import ConfigError
from scanner.model import Chunk, Location, ScanStats
from scanner.parsing import TooComplex
from scanner.sources.base import Hit, Unit, read_json_export, refuse_export, scan_chunks
from scanner.sources.atlassian_client import (
    Rejected,
    UnitFailed,
    call,
    get_json,
    make_client,
)

if TYPE_CHECKING:
    from scanner.engine import Engine

PAGE = 25
MAX_VERSIONS = 20
EXPAND = "body.storage,version,space"
_TAG = regex.compile(r"<[^>]*>")
_BLOCK = regex.compile(r"(?i)^</?(p|div|br|li|ul|ol|tr|td|th|table|h[1-6]|pre|blockquote|ac:|ri:)")


def strip_tags(storage: str) -> str:
    """Text of a storage-format body: tags out (block tags become a space), entities decoded,
    line breaks kept where they were."""
    def repl(m: regex.Match[str]) -> str:
        tag = m.group(0)
        newlines = tag.count("\n")
        if newlines:
            return "\n" * newlines
        return " " if _BLOCK.match(tag) else ""
    return html.unescape(_TAG.sub(repl, storage))


def page_chunks(page: dict[str, Any], base_url: str, *, historical: bool = False,
                within: dict[str, Any] | None = None) -> Iterator[Chunk]:
    """The raw body and its stripped text, both standing for the same page (version); a comment
    is placed `within` its page (`PAGEID#comment-ID`)."""
    body = ((page.get("body") or {}).get("storage") or {}).get("value") or ""
    if not body:
        return
    number = (page.get("version") or {}).get("number")
    space = ((within or page).get("space") or {}).get("key") or ""
    pid = str(page.get("id", ""))
    path = f"{pid}#v{number}" if historical and number is not None else pid
    webui = ((within or page).get("_links") or {}).get("webui")
    url = f"{base_url}{webui}" if webui and base_url else None
    if within is not None:
        path = f"{within.get('id')}#comment-{pid}"
        url = f"{url}?focusedCommentId={pid}" if url else None
    attrs = [("title", str(page.get("title") or ""))]
    if number is not None:
        attrs.append(("version", str(number)))
    loc = Location("confluence", space, path, state="historical" if historical else "live",
                   url=url, attributes=tuple(sorted(attrs)))
    yield Chunk(body.encode("utf-8"), (loc,), hint=f"{pid}.html")
    stripped = strip_tags(body)
    if stripped != body:
        yield Chunk(stripped.encode("utf-8"), (loc,), hint=f"{pid}.txt")


class ConfluenceSource:
    """Pages (current and older versions) of some or all spaces of one Confluence site."""

    def __init__(self, url: str, spaces: list[str] | None = None, *,
                 max_versions: int = MAX_VERSIONS) -> None:
        from atlassian import Confluence

        self.base = url.rstrip("/")
        self.name = f"confluence:{self.base}"
        self.spaces = [s for s in (spaces or []) if s]
        self.max_versions = max_versions
        # the Server client speaks v1 `rest/api/content`, which Cloud serves as well
        self.client = make_client(Confluence, url, "CONFLUENCE", "JIRA", cloud=False)
        self.progress: Callable[[str], None] | None = None

    def units(self, stats: ScanStats) -> list[Unit]:
        """One unit per space (`--spaces`, else every space the credentials can list)."""
        try:
            spaces = self.spaces or [str(s.get("key")) for s in self._paged(
                "rest/api/space", {"limit": PAGE}, "space list", stats)]
        except Rejected as exc:
            stats.errors.append(f"{exc} ({self.base})")
            return []
        return [Unit(self.name, f"space {i}/{len(spaces)}", f"{self.name} space {space}", space,
                     repos=()) for i, space in enumerate(spaces, 1)]

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Every unit in order (what the split scan finds)."""
        for unit in self.units(stats):
            yield from self.space(unit.data, stats)

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        return scan_chunks(self.space(unit.data, stats), engine, stats)

    def space(self, space: str, stats: ScanStats) -> Iterator[Chunk]:
        """Pages and blog posts of one space, with their versions and comments; rejected
        credentials end the space with one line naming it."""
        done = 0
        try:
            for kind in ("page", "blogpost"):
                for page in self._paged("rest/api/content", {"spaceKey": space, "type": kind,
                                                             "expand": EXPAND, "limit": PAGE},
                                        f"{kind}s of space {space}", stats):
                    yield from page_chunks(page, self.base)
                    yield from self._versions(page, stats)
                    for comment in self._paged(f"rest/api/content/{page.get('id')}/child/comment",
                                               {"expand": "body.storage,version", "depth": "all",
                                                "limit": PAGE},
                                               f"comments of page {page.get('id')}", stats):
                        yield from page_chunks(comment, self.base, within=page)
                    done += 1
                    if self.progress and done % 50 == 0:
                        self.progress(f"{self.name}: {done} pages")
                if self.progress:
                    self.progress(f"{self.name}: space {space} {kind}s done, {done} pages")
        except Rejected as exc:
            stats.errors.append(f"{exc} ({self.base}, space {space})")

    def _paged(self, path: str, params: dict[str, Any], unit: str,
               stats: ScanStats) -> Iterator[dict[str, Any]]:
        url, absolute, start = path, False, 0
        while True:
            try:
                resp = call(get_json(self.client, url, params=None if absolute else params,
                                     absolute=absolute), "Confluence", f"{unit} (start={start})")
            except UnitFailed as exc:
                stats.errors.append(str(exc))
                return
            results = resp.get("results") or []
            yield from results
            start += len(results)
            links = resp.get("_links") or {}
            nxt = links.get("next")
            if not nxt or not results:
                return
            url = nxt if nxt.startswith("http") else f"{links.get('base') or self.base}{nxt}"
            absolute = True

    def _versions(self, page: dict[str, Any], stats: ScanStats) -> Iterator[Chunk]:
        number = (page.get("version") or {}).get("number") or 1
        pid = page.get("id")
        oldest = max(1, number - self.max_versions)
        if number - 1 > self.max_versions:
            stats.skip("old-versions", number - 1 - self.max_versions)
        for v in range(number - 1, oldest - 1, -1):
            try:
                old = call(get_json(self.client, f"rest/api/content/{pid}", params={
                    "status": "historical", "version": v, "expand": EXPAND}),
                    "Confluence", f"page {pid} version {v}")
            except UnitFailed as exc:
                stats.errors.append(str(exc))
                continue
            old.setdefault("space", page.get("space"))
            old.setdefault("_links", page.get("_links"))
            yield from page_chunks(old, self.base, historical=True)


class ConfluenceExportSource:
    """Pages saved as REST JSON: a content listing (`{"results": [...]}`), a list or one page.
    When one page id appears with several version numbers, the highest is live, the rest
    historical. Links are made from `_links.base` when the listing has one."""

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)
        self.name = f"confluence-export:{file}"
        self.refused: TooComplex | None = None
        try:
            doc = read_json_export(file, "Confluence export")
        except TooComplex as exc:
            doc, self.refused = [], exc
        pages = doc.get("results", [doc] if "body" in doc else None) if isinstance(doc, dict) else doc
        if not isinstance(pages, list) or not all(isinstance(p, dict) and "id" in p for p in pages):
            raise ConfigError(f"{file}: not a Confluence content export (expected pages with an `id`)")
        self.pages: list[dict[str, Any]] = pages
        self.base = ((doc.get("_links") or {}).get("base") or "") if isinstance(doc, dict) else ""

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        if self.refused:
            refuse_export(self.file, self.refused, stats)
        newest: dict[str, int] = {}
        for p in self.pages:
            n = (p.get("version") or {}).get("number") or 0
            newest[str(p["id"])] = max(newest.get(str(p["id"]), 0), n)
        for p in self.pages:
            n = (p.get("version") or {}).get("number") or 0
            yield from page_chunks(p, self.base, historical=n < newest[str(p["id"])])
