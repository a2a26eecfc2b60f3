"""Shared test helpers: real git repositories made with git, synthetic secrets, the demo org."""

from __future__ import annotations

import random
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
