"""Shared test helpers: real git repositories made with git, synthetic secrets, the demo org."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))

import build_demo  # noqa: E402
import tokens  # noqa: E402

Repo = build_demo.Repo


@pytest.fixture(autouse=True)
def no_ambient_datastore(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's $SPRAWLSCAN_DB must not receive the test suite's scans."""
    monkeypatch.delenv("SPRAWLSCAN_DB", raising=False)


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


@pytest.fixture
def bare_clone(tmp_path: Path):
    """Factory: bare_clone(repo) → `file://` URL of a bare clone of a `Repo` (what a forge serves)."""

    def make(repo: Repo, name: str | None = None) -> str:
        dest = tmp_path / "served" / f"{name or repo.path.name}.git"
        dest.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(dest)], check=True,
                       capture_output=True)
        return dest.as_uri()

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
