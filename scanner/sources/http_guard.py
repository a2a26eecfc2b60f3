"""Credentials stay home: the one rule every HTTP client of a crawler follows (GitLab through
python-gitlab, Vault through hvac, Jira and Confluence through atlassian-python-api). A client is
given a `PinnedSession` for the base URL the user configured; the session sends nothing to any
other origin (scheme, host and port), whether the URL came from a redirect (requests carries custom
headers such as `PRIVATE-TOKEN` or `X-Vault-Token` across hosts; it strips only `Authorization`)
or from the server's JSON (`_links.next`, an attachment's `content`, a pagination `Link`). Such a
request raises `OffHostRefused`, a `requests.RequestException`, so each source records the unit as
failed (the scan is incomplete, exit 3) and carries on.

PyGithub does not take a session; its requester already rewrites server-given URLs to its own
host, refuses cross-host 301s and does not follow other redirects with the token (tested in
tests/test_http_guard.py). Every answer's JSON is parsed depth-bounded (`scanner.parsing.json_loads`);
PyGithub parses its own with `json.loads`, whose C scanner raises `RecursionError` past Python's
recursion limit: the GitHub source turns that into a failed unit."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from scanner.parsing import json_loads

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or DEFAULT_PORTS.get(scheme)


def show(o: tuple[str, str, int | None]) -> str:
    scheme, host, port = o
    return f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS.get(scheme) else f":{port}")


class OffHostRefused(requests.RequestException):
    """A request (a redirect or a server-given URL) to an origin other than the configured one."""

    def __init__(self, target: str, pinned: tuple[str, str, int | None]) -> None:
        super().__init__(f"refused to send credentials to {show(origin(target))} (only "
                         f"{show(pinned)} is configured)")


class PinnedSession(requests.Session):
    """A `requests.Session` that only ever sends to the origin of `base`."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.pinned = origin(base)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # every request and every redirect hop passes here before a byte leaves
        if origin(request.url or "") != self.pinned:
            raise OffHostRefused(request.url or "", self.pinned)
        response = super().send(request, **kwargs)
        # the client library parses the answer with `response.json()`: depth-bounded here, a
        # document nested too deep is a ValueError (`TooComplex`) like any malformed JSON
        response.json = lambda **_kw: json_loads(response.content)  # type: ignore[method-assign]
        return response
