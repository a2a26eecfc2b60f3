"""Mirror clones over real HTTP (git's dumb protocol served from a bare repository on 127.0.0.1):
the token travels as a header only, the cache is fetched not re-cloned, a refusal is one line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from werkzeug import Request, Response

from scanner.sources.clone_cache import (
    basic_auth_header,
    clone_path,
    head_files,
    mirror,
)
from scanner.sources.git_history import GitError

TOKEN = "ghp_notarealtokenjustforclonetests00000"


@pytest.fixture
def served(httpserver, make_repo, tmp_path):
    """A bare repository served over dumb HTTP at /acme/x.git, only with the right header."""
    r = make_repo("x")
    r.write(".github/workflows/ci.yml", "on: push\n")
    r.write("a.txt", "one\n")
    r.commit("one")
    bare = tmp_path / "x.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(r.path), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    seen: list[tuple[str, str]] = []
    expected = basic_auth_header("x-access-token", TOKEN).split(": ", 1)[1]

    def handle(request: Request) -> Response:
        seen.append((request.path, request.headers.get("Authorization", "")))
        if request.headers.get("Authorization") != expected:
            return Response("denied", status=401, headers={"WWW-Authenticate": 'Basic realm="x"'})
        f = bare / request.path.removeprefix("/acme/x.git/")
        if not f.is_file():
            return Response("", status=404)
        return Response(f.read_bytes(), content_type="application/octet-stream")

    httpserver.expect_request(re.compile("^/acme/x.git/.*")).respond_with_handler(handle)
    return r, bare, httpserver.url_for("/acme/x.git"), seen


def test_clone_then_fetch_with_header_token(served, tmp_path):
    """The clone sends the token as a Basic header on every request, never stores it, and a
    second call fetches new commits into the same mirror."""
    r, bare, url, seen = served
    dest = clone_path(tmp_path / "cache", "github", "127.0.0.1:1", "acme/x")
    assert dest == tmp_path / "cache" / "github" / "127.0.0.1_1" / "acme" / "x.git"
    auth = basic_auth_header("x-access-token", TOKEN)
    mirror(url, dest, auth, forge=url)
    assert seen and all(h == auth.split(": ", 1)[1] for _, h in seen)
    stored = "".join(p.read_text(errors="replace") for p in dest.rglob("*") if p.is_file()
                     and p.stat().st_size < 100_000)
    assert TOKEN not in stored and auth.split(": ", 1)[1] not in stored
    assert [p for p, _ in head_files(dest, ".github/workflows/", (".yml",))] == \
        [".github/workflows/ci.yml"]
    r.write("a.txt", "two\n")
    r.commit("two")
    subprocess.run(["git", "-C", str(r.path), "push", "-q", str(bare), "main"], check=True)
    subprocess.run(["git", "-C", str(bare), "update-server-info"], check=True)
    inode = dest.stat().st_ino
    mirror(url, dest, auth, forge=url)
    assert dest.stat().st_ino == inode
    log = subprocess.run(["git", "-C", str(dest), "log", "--format=%s", "main"], check=True,
                         capture_output=True, text=True).stdout.split()
    assert log == ["two", "one"]


def test_refused_clone_is_one_line_without_token(served, tmp_path):
    """A wrong token fails fast (no password prompt) with git's last line, token-free."""
    _, _, url, _ = served
    with pytest.raises(GitError) as exc:
        mirror(url, tmp_path / "m.git", basic_auth_header("x-access-token", "wrong-token-value"),
               forge=url)
    msg = str(exc.value)
    assert msg.startswith("git clone failed: ") and "\n" not in msg
    assert "wrong-token-value" not in msg


def test_clone_path_keeps_groups_and_drops_dot_segments(tmp_path: Path):
    """GitLab full paths become folders; `..` cannot escape the cache."""
    assert clone_path(tmp_path, "gitlab", "gl", "a/b/../c") == tmp_path / "gitlab" / "gl" / "a" / "b" / "c.git"
