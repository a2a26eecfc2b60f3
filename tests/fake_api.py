"""A tiny router on top of pytest-httpserver: real HTTP on 127.0.0.1 serving canned API JSON,
with page-numbered pagination (Link headers, plus GitLab's X-Next-Page), injected failures and a
log of every request, so tests can assert what a real client library asked for. Every 200 JSON
answer carries an `ETag` (a weak tag of its body, as GitHub sends for lists); a request whose
`If-None-Match` names it (weak comparison, or `*`) gets `304 Not Modified` with no body."""

from __future__ import annotations

import hashlib
import json
import re
from collections import deque
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class FakeAPI:
    def __init__(self, server: HTTPServer, prefix: str = "") -> None:
        self.server = server
        self.prefix = prefix
        self.routes: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = {}
        self.failures: dict[str, deque[tuple[int, Any, dict[str, str]]]] = {}
        self.log: list[str] = []
        self.auth: list[str] = []
        self.answers: list[tuple[str, int]] = []
        """(path, status) of every answer: 200s re-sent a body, 304s did not."""
        # a prefixed API claims only its prefix, so two fakes can share one server
        pattern = re.compile(f"^{re.escape(prefix)}/.*" if prefix else ".*")
        server.expect_request(pattern).respond_with_handler(self.handle)

    @property
    def base(self) -> str:
        return self.server.url_for("").rstrip("/")

    def url(self, path: str) -> str:
        return self.base + self.prefix + path

    def json(self, path: str, body: Any, status: int = 200, page: str = "1",
             headers: dict[str, str] | None = None) -> None:
        self.routes[(self.prefix + path, page)] = (status, body, headers or {})

    def pages(self, path: str, pages: list[Any], query: str = "", link_base: str = "") -> None:
        """Serve `pages` at ?page=1..n, each pointing at the next through `Link` and X-Next-Page;
        `link_base` names another origin in the `Link`s (an instance whose external URL differs
        from the one it is reached at)."""
        for i, body in enumerate(pages, 1):
            headers = {"X-Page": str(i), "X-Total-Pages": str(len(pages)), "X-Per-Page": "2"}
            if i < len(pages):
                sep = "&" if query else ""
                nxt = f"{link_base or self.base}{self.prefix}{path}?{query}{sep}page={i + 1}"
                headers["Link"] = f'<{nxt}>; rel="next"'
                headers["X-Next-Page"] = str(i + 1)
            else:
                headers["X-Next-Page"] = ""
            self.json(path, body, page=str(i), headers=headers)

    def fail(self, path: str, status: int, body: Any = None, headers: dict[str, str] | None = None,
             times: int = 1) -> None:
        """The next `times` requests for `path` get this response instead of the route."""
        q = self.failures.setdefault(self.prefix + path, deque())
        for _ in range(times):
            q.append((status, body if body is not None else {"message": "failure"}, headers or {}))

    def handle(self, request: Request) -> Response:
        path = request.path
        page = request.args.get("page", "1")
        self.log.append(path if page == "1" else f"{path}?page={page}")
        self.auth.append(request.headers.get("Authorization", "") + request.headers.get(
            "PRIVATE-TOKEN", ""))
        queued = self.failures.get(path)
        if queued:
            status, body, headers = queued.popleft()
        else:
            status, body, headers = self.routes.get((path, page), (404, {"message": "Not Found"}, {}))
        if isinstance(body, (bytes, str)):
            self.answers.append((path, status))
            return Response(body, status=status, headers=headers, content_type="text/plain")
        text = json.dumps(body)
        if status == 200:
            etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'
            headers = {**headers, "ETag": etag}
            asked = [t.strip().removeprefix("W/") for t in
                     request.headers.get("If-None-Match", "").split(",") if t.strip()]
            if "*" in asked or etag.removeprefix("W/") in asked:
                self.answers.append((path, 304))
                return Response(status=304, headers=headers)
        self.answers.append((path, status))
        return Response(text, status=status, headers=headers, content_type="application/json")


def paths(log: list[str], prefix: str = "") -> list[str]:
    return [p.removeprefix(prefix) for p in log]
