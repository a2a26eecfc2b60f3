"""Shared test helpers: real git repositories made with git, synthetic secrets, the demo org."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from werkzeug import Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))

import build_demo  # noqa: E402
import tokens  # noqa: E402

Repo = build_demo.Repo


@pytest.fixture(autouse=True)
def no_ambient_datastore(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $SPRAWLSCAN_DB must not receive the test suite's scans."""
    monkeypatch.delenv("SPRAWLSCAN_DB", raising=False)


@pytest.fixture(autouse=True)
def own_fingerprint_key(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's key file for keyed fingerprints, not the developer's (one for the session)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "xdg-data"))
    monkeypatch.delenv("SPRAWLSCAN_FINGERPRINT_KEY", raising=False)


@pytest.fixture(autouse=True)
def own_rules_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite's compiled-rules cache, not the developer's: the suite's many rule sets would
    evict the entries a developer's own scans use (one for the session)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """A per-test random source: secrets differ between tests, runs are reproducible."""
    return random.Random(request.node.nodeid)


@pytest.fixture
def make_repo(tmp_path: Path):
    """Factory: make_repo("name", origin=...) → a `Repo` (git init'ed, fixed dates)."""

    def make(name: str = "repo", origin: str | None = None) -> Repo:
        return Repo(tmp_path / name, origin or f"https://github.com/acme/{name}.git")

    return make


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo.build(tmp_path_factory.mktemp("demo") / "acme")


@pytest.fixture(scope="session")
def demo_secrets() -> dict[str, str]:
    return build_demo.demo_secrets()


__all__ = ["Repo", "tokens"]


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver listens on 127.0.0.1 only (any free port)."""
    return ("127.0.0.1", 0)


class GitHTTP:
    """Bare repositories under `root` served over git's smart HTTP protocol (`git http-backend`
    run as a CGI program) at `<server>/_git/<name>.git`, as a forge serves its clone URLs;
    `auth` records the Authorization header of every request."""

    PREFIX = "/_git/"

    def __init__(self, server: Any, root: Path) -> None:
        self.server, self.root = server, root
        self.auth: list[str] = []
        server.expect_request(re.compile(f"^{self.PREFIX}.*")).respond_with_handler(self.handle)

    def url(self, name: str) -> str:
        return self.server.url_for(f"{self.PREFIX}{name}.git")

    def handle(self, request: Request) -> Response:
        self.auth.append(request.headers.get("Authorization", ""))
        env = {"PATH": os.environ.get("PATH", ""), "GIT_PROJECT_ROOT": str(self.root),
               "GIT_HTTP_EXPORT_ALL": "1", "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": os.devnull, "REQUEST_METHOD": request.method,
               "PATH_INFO": request.path.removeprefix(self.PREFIX[:-1]),
               "QUERY_STRING": request.query_string.decode(), "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": request.headers.get("Content-Type", ""),
               "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
               "GIT_PROTOCOL": request.headers.get("Git-Protocol", "")}
        out = subprocess.run(["git", "http-backend"], input=request.get_data(), env=env,
                             capture_output=True, check=False).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(": ")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers[key] = value
        return Response(body, status=status, headers=headers)


@pytest.fixture
def git_http(httpserver, tmp_path: Path) -> GitHTTP:
    """Serves `tmp_path/served/*.git` over smart HTTP on the test's 127.0.0.1 server."""
    (tmp_path / "served").mkdir(exist_ok=True)
    return GitHTTP(httpserver, tmp_path / "served")


@pytest.fixture
def bare_clone(git_http: GitHTTP):
    """Factory: bare_clone(repo) → the HTTP clone URL of a bare clone of a `Repo` (what a forge
    serves), on the same 127.0.0.1 server as the fake API."""

    def make(repo: Repo, name: str | None = None) -> str:
        dest = git_http.root / f"{name or repo.path.name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(dest)], check=True,
                       capture_output=True)
        return git_http.url(name or repo.path.name)

    return make


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on a loopback port for the whole session (see pg_server.py)."""
    import pg_server as pg

    server = pg.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server, request: pytest.FixtureRequest) -> str:
    """A fresh, empty PostgreSQL database for one test: its `postgresql://` URL."""
    import hashlib

    name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    return pg_server.create_database(name)
