"""Source: Jira issues, live (`jira:URL`, through atlassian-python-api) or saved (`jira-export:FILE`,
the REST search JSON written to disk). Gives one chunk per text an issue holds.

Reads: summary, description, every comment (pages of `issue/KEY/comment` when the search result
holds only the first ones), changelog item values (`fromString` / `toString`, marked
`historical`: they are what a field said before or at an edit) and text attachments (by MIME type
or extension, up to the size limit). Descriptions and comments in Atlassian Document Format (Cloud
v3) are scanned as their JSON text. Search: `--jql` (default: every issue of every project),
`startAt` / `maxResults` / `total` pages on Server / Data Center, `nextPageToken` on Cloud
(`*.atlassian.net`, or `jira_cloud=1` in the options). Auth: see `atlassian_client`.
Locations: source `jira`, container = project key, path `KEY-1#description`, `KEY-1#comment-10001`,
`KEY-1#history-10100/<field>/from`, `KEY-1#attachment-10200/<filename>`; url = the issue's page.
A unit that fails (a search page, a comment page, an attachment) is named in `stats.errors` and the
crawl goes on; rejected credentials end it with one line.

Attachments: Jira Cloud answers a download with a redirect to its media host
(`api.media.atlassian.com`, a signed URL). That one hop is followed over https with a plain
request that carries none of our credentials (no `Authorization`, no cookies); a redirect to any
other host is refused like every off-host URL (`http_guard`).

Units (`scanner.units`): with the default JQL, one per project the site lists (`project =
KEY`) and one for the issues of any project the list leaves out; a chosen `--jql` is one unit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

import regex
import requests

from scanner.errors import ConfigError
from scanner.model import Chunk, Location, ScanStats
from scanner.sources.atlassian_client import (
    TIMEOUT,
    Rejected,
    UnitFailed,
    call,
    get_json,
    make_client,
)
from scanner.parsing import TooComplex
from scanner.sources.base import (DEFAULT_MAX_FILE_SIZE, Hit, Unit, is_binary, read_json_export,
                                  refuse_export, scan_chunks)
from scanner.sources.http_guard import OffHostRefused, PinnedSession, origin

if TYPE_CHECKING:
    from scanner.engine import Engine

DEFAULT_JQL = "project is not EMPTY ORDER BY key ASC"
FIELDS = "summary,description,comment,attachment,project"
PAGE = 50
MAX_SPLIT = 200
"""Most projects split into units (their keys are written into one JQL query for the rest)."""
_KEY = regex.compile(r"[A-Z][A-Z0-9_]{0,63}")
MEDIA_HOSTS = ("https://api.media.atlassian.com",)
"""Where Jira Cloud redirects attachment downloads: followed without our credentials."""
MAX_HOPS = 5
TEXT_MIME = ("text/", "application/json", "application/xml", "application/yaml",
             "application/x-yaml", "application/x-sh", "application/javascript", "application/toml")
TEXT_EXT = {".txt", ".log", ".env", ".json", ".yaml", ".yml", ".md", ".csv", ".ini", ".cfg",
            ".conf", ".sh", ".py", ".js", ".ts", ".toml", ".xml", ".properties", ".pem", ".key",
            ".har", ".ipynb", ".sql", ".tf", ".tfvars"}


def _text(value: object) -> str:
    """A field as text: plain strings as they are, ADF documents as their JSON."""
    if value is None or value == "":
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def where(issue: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(issue key, project key, fields) of one issue JSON."""
    key = str(issue.get("key", ""))
    fields = issue.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    project = fields.get("project")
    container = project.get("key") if isinstance(project, dict) else None
    return key, str(container or key.rsplit("-", 1)[0]), fields


def issue_chunks(issue: dict[str, Any], base_url: str) -> Iterator[Chunk]:
    """Summary, description, the comments present in the issue JSON and its changelog values."""
    key, container, fields = where(issue)
    url = f"{base_url}/browse/{key}"

    def chunk(part: str, text: str, state: str = "live", link: str = url) -> Chunk:
        loc = Location("jira", container, f"{key}#{part}", state=state, url=link)
        return Chunk(text.encode("utf-8"), (loc,), hint=f"{key}#{part}")

    for part in ("summary", "description"):
        text = _text(fields.get(part))
        if text:
            yield chunk(part, text)
    comment = fields.get("comment")
    for c in (comment.get("comments", []) if isinstance(comment, dict) else []):
        yield from comment_chunks(key, container, url, c)
    changelog = issue.get("changelog")
    for history in (changelog.get("histories", []) if isinstance(changelog, dict) else []):
        yield from history_chunks(key, container, url, history)


def history_chunks(key: str, container: str, url: str, history: dict[str, Any]) -> Iterator[Chunk]:
    """The old and new values of one changelog entry, `historical`."""
    hid = history.get("id", "")
    for item in history.get("items") or []:
        field = item.get("field", "")
        for side, name in (("from", "fromString"), ("to", "toString")):
            text = _text(item.get(name))
            if text:
                part = f"history-{hid}/{field}/{side}"
                loc = Location("jira", container, f"{key}#{part}", state="historical", url=url)
                yield Chunk(text.encode("utf-8"), (loc,), hint=f"{key}#{part}")


def comment_chunks(key: str, container: str, url: str, c: dict[str, Any]) -> Iterator[Chunk]:
    text = _text(c.get("body"))
    if text:
        cid = c.get("id", "")
        loc = Location("jira", container, f"{key}#comment-{cid}", state="live",
                       url=f"{url}?focusedCommentId={cid}")
        yield Chunk(text.encode("utf-8"), (loc,), hint=f"{key}#comment-{cid}")


def is_text_attachment(att: dict[str, Any]) -> bool:
    mime = str(att.get("mimeType") or "").lower()
    ext = PurePosixPath(str(att.get("filename") or "")).suffix.lower()
    return mime.startswith(TEXT_MIME) or ext in TEXT_EXT


class JiraSource:
    """Issues matching a JQL query on one Jira site."""

    def __init__(self, url: str, jql: str | None = None, *, cloud: bool | None = None,
                 max_file_size: int = DEFAULT_MAX_FILE_SIZE,
                 media_hosts: tuple[str, ...] = MEDIA_HOSTS) -> None:
        from atlassian import Jira

        host = urlparse(url).hostname or ""
        self.cloud = cloud if cloud is not None else host.endswith((".atlassian.net", ".jira.com"))
        self.base = url.rstrip("/")
        self.name = f"jira:{self.base}"
        self.jql = jql or DEFAULT_JQL
        self.max_file_size = max_file_size
        self.client = make_client(Jira, url, "JIRA", cloud=self.cloud)
        self.media = {origin(h) for h in media_hosts}
        self.progress: Callable[[str], None] | None = None
        self.label = ""
        """Which part of the search this is (a unit's project), named in error lines."""
        self.total: int | None = None
        """Issues the search matches, when the server says (Server/DC does, Cloud does not)."""

    def units(self, stats: ScanStats) -> list[Unit]:
        """With the default JQL (every issue of every project): one unit per project the site
        lists (`project = KEY`), then one for every issue outside the listed projects (`project
        not in (...)`: a project the listing left out loses nothing). A chosen `--jql`, a site
        that does not list its projects, or more than MAX_SPLIT of them: the search is one unit."""
        whole = [Unit(self.name, "", self.name, repos=())]
        if self.jql != DEFAULT_JQL:
            return whole
        try:
            listed = call(lambda: self.client.get(self.client.resource_url("project")), "Jira",
                          "project list")
        except (UnitFailed, Rejected):
            return whole
        keys: list[str] = [str(p["key"]) for p in listed if isinstance(p, dict) and p.get("key")] \
            if isinstance(listed, list) else []
        if not keys or len(keys) > MAX_SPLIT or not all(_KEY.fullmatch(k) for k in keys):
            return whole
        quoted = ", ".join(f'"{k}"' for k in keys)
        rest = "issues outside the listed projects"
        return [Unit(self.name, f"project {i}/{len(keys)}", f"{self.name} project {k}",
                     (f"project {k}", f'project = "{k}" ORDER BY key ASC'), repos=())
                for i, k in enumerate(keys, 1)] + [
            Unit(self.name, "unlisted", f"{self.name} {rest}",
                 (rest, f"project is not EMPTY AND project not in ({quoted}) ORDER BY key ASC"),
                 repos=())]

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        self.label, self.jql = unit.data
        return scan_chunks(self.chunks(stats), engine, stats)

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        try:
            for done, issue in enumerate(self._search(stats), 1):
                yield from self._issue(issue, stats)
                if self.progress and (done % 50 == 0 or done == self.total):
                    self.progress(f"{self.name}: {done}/{self.total or '?'} issues")
        except Rejected as exc:
            stats.errors.append(f"{exc} ({self.base})")

    def _search(self, stats: ScanStats) -> Iterator[dict[str, Any]]:
        start, token = 0, None
        while True:
            unit = (f"{self.label + ' ' if self.label else ''}search page "
                    f"{'token ' + token if token else 'startAt=' + str(start)}")
            try:
                if self.cloud:
                    page = call(partial(self.client.enhanced_jql, self.jql, fields=FIELDS,
                                        nextPageToken=token, limit=PAGE, expand="changelog"),
                                "Jira", unit)
                else:
                    page = call(partial(self.client.jql, self.jql, fields=FIELDS, start=start,
                                        limit=PAGE, expand="changelog"), "Jira", unit)
            except UnitFailed as exc:
                stats.errors.append(str(exc))
                return
            if not isinstance(page, dict):  # the library logs bad JSON and hands back text
                stats.errors.append(f"Jira: {unit}: response is not a JSON object (malformed, or "
                                    "nested too deep)")
                return
            issues = page.get("issues") or []
            if not self.cloud and isinstance(page.get("total"), int):
                self.total = page["total"]
            yield from issues
            if self.cloud:
                token = page.get("nextPageToken")
                if page.get("isLast", True) or not token:
                    return
            else:
                start += len(issues)
                if not issues or start >= int(page.get("total", 0)):
                    return

    def _issue(self, issue: dict[str, Any], stats: ScanStats) -> Iterator[Chunk]:
        yield from issue_chunks(issue, self.base)
        key, container, fields = where(issue)
        url = f"{self.base}/browse/{key}"
        comment = fields.get("comment")
        comment = comment if isinstance(comment, dict) else {}
        seen = len(comment.get("comments", []))
        total = int(comment.get("total", seen))
        while seen < total:
            path = self.client.resource_url(f"issue/{key}/comment")
            try:
                page = call(get_json(self.client, path,
                                     params={"startAt": seen, "maxResults": PAGE}),
                            "Jira", f"{key} comments startAt={seen}")
            except UnitFailed as exc:
                stats.errors.append(str(exc))
                break
            comments = page.get("comments") or []
            for c in comments:
                yield from comment_chunks(key, container, url, c)
            if not comments:
                break
            seen += len(comments)
        yield from self._more_history(issue, key, container, url, stats)
        for att in fields.get("attachment") or []:
            yield from self._attachment(key, container, url, att, stats)

    def _more_history(self, issue: dict[str, Any], key: str, container: str, url: str,
                      stats: ScanStats) -> Iterator[Chunk]:
        """Changelog entries the search result left out: Cloud pages `issue/KEY/changelog`;
        Server / Data Center gives the whole changelog with `issue/KEY?expand=changelog`."""
        changelog = issue.get("changelog")
        changelog = changelog if isinstance(changelog, dict) else {}
        have = {str(h.get("id")) for h in changelog.get("histories") or []}
        if int(changelog.get("total", len(have))) <= len(have):
            return
        path = self.client.resource_url(f"issue/{key}/changelog" if self.cloud else f"issue/{key}")
        start = 0
        while True:
            params: dict[str, Any] = ({"startAt": start, "maxResults": 100} if self.cloud
                                      else {"expand": "changelog", "fields": "summary"})
            try:
                page = call(get_json(self.client, path, params=params), "Jira",
                            f"{key} changelog startAt={start}")
            except UnitFailed as exc:
                stats.errors.append(str(exc))
                return
            entries = page.get("values") if self.cloud else (page.get("changelog") or {}).get("histories")
            for history in entries or []:
                if str(history.get("id")) not in have:
                    have.add(str(history.get("id")))
                    yield from history_chunks(key, container, url, history)
            start += len(entries or [])
            if not self.cloud or not entries or page.get("isLast", True):
                return

    def _attachment(self, key: str, container: str, url: str, att: dict[str, Any],
                    stats: ScanStats) -> Iterator[Chunk]:
        if not is_text_attachment(att):
            stats.skip("binary")
            return
        if int(att.get("size") or 0) > self.max_file_size:
            stats.skip("too-large")
            return
        name = str(att.get("filename") or att.get("id"))
        try:
            data = call(lambda: self._download(str(att.get("content"))), "Jira",
                        f"{key} attachment {name}")
        except UnitFailed as exc:
            stats.errors.append(str(exc))
            return
        if data is None:
            stats.skip("too-large")
            return
        if is_binary(data):
            stats.skip("binary")
            return
        loc = Location("jira", container, f"{key}#attachment-{att.get('id')}/{name}", url=url)
        yield Chunk(data, (loc,), hint=name)


    def _download(self, url: str) -> bytes | None:
        """An attachment's bytes (None: over the size limit): redirects on the site are followed
        with the site's session, one to the media host with a plain request, others refused."""
        session = self.client._session
        assert isinstance(session, PinnedSession)  # make_client gives every client one
        response = session.get(url, headers={"Accept": "*/*"}, allow_redirects=False,
                               timeout=TIMEOUT, stream=True)
        for _ in range(MAX_HOPS):
            if not response.is_redirect:
                break
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if origin(target) in self.media:  # the signed download URL: none of our headers
                response = requests.get(target, headers={"Accept": "*/*"}, allow_redirects=False,
                                        timeout=TIMEOUT, stream=True)
                break
            if origin(target) != session.pinned:
                raise OffHostRefused(target, session.pinned)
            url, response = target, session.get(target, headers={"Accept": "*/*"},
                                                allow_redirects=False, timeout=TIMEOUT, stream=True)
        with response:
            if response.is_redirect:
                raise requests.TooManyRedirects(f"more than {MAX_HOPS} redirects")
            response.raise_for_status()
            data = response.raw.read(self.max_file_size + 1, decode_content=True)
        return None if len(data) > self.max_file_size else bytes(data)


class JiraExportSource:
    """Issues saved to disk as REST JSON: a search response (`{"issues": [...]}`), a list of
    issues or one issue. The site is taken from each issue's `self` link."""

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)
        self.name = f"jira-export:{file}"
        self.refused: TooComplex | None = None
        try:
            doc = read_json_export(file, "Jira export")
        except TooComplex as exc:
            doc, self.refused = [], exc
        issues = doc.get("issues", [doc] if "key" in doc else None) if isinstance(doc, dict) else doc
        if not isinstance(issues, list) or not all(isinstance(i, dict) and "key" in i for i in issues):
            raise ConfigError(f"{file}: not a Jira issue export (expected issues with a `key`)")
        self.issues: list[dict[str, Any]] = issues

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        if self.refused:
            refuse_export(self.file, self.refused, stats)
        for issue in self.issues:
            self_link = str(issue.get("self") or "")
            base = self_link.split("/rest/api/", 1)[0] if "/rest/api/" in self_link else ""
            yield from issue_chunks(issue, base)
