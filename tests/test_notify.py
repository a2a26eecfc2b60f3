"""Notifications after a complete recorded scan (`--notify-webhook`, `--notify-slack`,
`--notify-jira`), received by real local HTTP servers: new and reappeared credentials only, never
a plaintext value, nothing on an unchanged rescan, a failed delivery exits 3 and is retried."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from click.testing import CliRunner
from tokens import github, openai_project
from werkzeug import Response

from scanner.cli import main
from scanner.model import fingerprint


def bodies(httpserver, path: str) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


def raw(httpserver) -> bytes:
    return b"".join(req.get_data() + str(req.headers).encode() for req, _ in httpserver.log)


def scan(db: str, d: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", "--db", db, "--format", "json", str(d), *extra])
    return res.exit_code, res.output


def channels(httpserver) -> list[str]:
    for path in ("/hook", "/slack", "/rest/api/2/issue"):
        httpserver.expect_request(path, method="POST").respond_with_json({"ok": True})
    return ["--notify-webhook", httpserver.url_for("/hook"),
            "--notify-slack", httpserver.url_for("/slack"),
            "--notify-jira", httpserver.url_for("/"), "--notify-jira-project", "SEC"]


def lifecycle(db: str, tmp_path: Path, httpserver, rng, monkeypatch) -> None:
    monkeypatch.setenv("JIRA_USER", "bot@example.com")
    monkeypatch.setenv("JIRA_TOKEN", "jira-api-token-for-tests")
    a, b, c = github(rng), openai_project(rng), github(rng)
    d = tmp_path / "d"
    d.mkdir()
    (d / "one.env").write_text(f"A={a}\nB={b}\n")
    flags = channels(httpserver)
    assert scan(db, d, *flags)[0] == 1
    hooks = bodies(httpserver, "/hook")
    assert sorted(h["secret_sha256"] for h in hooks) == sorted([fingerprint(a), fingerprint(b)])
    assert {h["action"] for h in hooks} == {"new"}
    assert set(hooks[0]) >= {"secret_sha256", "redacted", "provider", "rule_id", "locations",
                             "owners", "action"}
    assert hooks[0]["locations"][0]["path"] == "one.env"
    [slack] = bodies(httpserver, "/slack")
    assert "2 new or reappeared" in slack["text"]
    issues = bodies(httpserver, "/rest/api/2/issue")
    assert len(issues) == 2 and {i["fields"]["project"]["key"] for i in issues} == {"SEC"}
    jira_req = next(r for r, _ in httpserver.log if r.path == "/rest/api/2/issue")
    assert jira_req.headers["Authorization"] == "Basic " + base64.b64encode(
        b"bot@example.com:jira-api-token-for-tests").decode()
    sent = len(httpserver.log)

    assert scan(db, d, *flags)[0] == 1  # unchanged: nothing to announce
    assert len(httpserver.log) == sent

    (d / "one.env").write_text(f"A={a}\nC={c}\n")  # b gone, c new
    assert scan(db, d, *flags)[0] == 1
    assert [(h["secret_sha256"], h["action"]) for h in bodies(httpserver, "/hook")[2:]] == \
        [(fingerprint(c), "new")]
    (d / "two.env").write_text(f"B={b}\n")  # b back
    assert scan(db, d, *flags)[0] == 1
    assert [(h["secret_sha256"], h["action"]) for h in bodies(httpserver, "/hook")[3:]] == \
        [(fingerprint(b), "reappeared")]
    assert len(bodies(httpserver, "/slack")) == 3
    everything = raw(httpserver)
    for value in (a, b, c):
        assert value.encode() not in everything


def test_new_and_reappeared_are_announced_once_sqlite(tmp_path, httpserver, rng, monkeypatch):
    """Webhook, Slack and Jira receive each new credential once, a reappeared one again, nothing
    on an unchanged rescan, and never a plaintext value (SQLite datastore)."""
    lifecycle(str(tmp_path / "s.db"), tmp_path, httpserver, rng, monkeypatch)


def test_new_and_reappeared_are_announced_once_postgres(pg_url, tmp_path, httpserver, rng,
                                                        monkeypatch):
    """The same on a PostgreSQL datastore."""
    lifecycle(pg_url, tmp_path, httpserver, rng, monkeypatch)


def test_failed_delivery_exits_3_and_is_retried_next_scan(tmp_path, httpserver, rng):
    """A webhook answering 500: exit 3 with one line (not the URL), nothing marked announced;
    the next scan delivers it; the one after sends nothing."""
    key = github(rng)
    d = tmp_path / "d"
    d.mkdir()
    (d / "k.env").write_text(f"K={key}\n")
    db = str(tmp_path / "s.db")
    hook = httpserver.url_for("/hook/T0KEN-in-path")
    httpserver.expect_oneshot_request("/hook/T0KEN-in-path").respond_with_response(
        Response("down", status=500))
    res = CliRunner().invoke(main, ["scan", "--db", db, "--format", "json", str(d),
                                    "--notify-webhook", hook])
    assert res.exit_code == 3
    assert "webhook notification failed (HTTP 500)" in res.output and "T0KEN" not in res.output
    httpserver.expect_request("/hook/T0KEN-in-path").respond_with_json({})
    assert scan(db, d, "--notify-webhook", hook)[0] == 1
    assert [b["secret_sha256"] for b in bodies(httpserver, "/hook/T0KEN-in-path")] == \
        [fingerprint(key)] * 2  # the failed attempt, then the retry
    assert scan(db, d, "--notify-webhook", hook)[0] == 1
    assert len(httpserver.log) == 2
    hist = CliRunner().invoke(main, ["history", "--db", db, "--format", "json"])
    kinds = [e["kind"] for e in json.loads(hist.output)]
    assert kinds == ["found", "notified"] and "T0KEN" not in hist.output


def test_notifications_need_a_datastore_and_complete_flags(tmp_path, httpserver):
    """Without --db, or with --notify-jira lacking its project: exit 2, one line, nothing sent."""
    d = tmp_path / "d"
    d.mkdir()
    res = CliRunner().invoke(main, ["scan", str(d), "--notify-slack", httpserver.url_for("/s")])
    assert res.exit_code == 2 and "need a datastore" in res.output
    res = CliRunner().invoke(main, ["scan", "--db", str(tmp_path / "s.db"), str(d),
                                    "--notify-jira", httpserver.url_for("/")])
    assert res.exit_code == 2 and "--notify-jira-project" in res.output
    assert httpserver.log == []


def test_jira_redirect_is_refused_and_carries_no_token(tmp_path, httpserver, rng, monkeypatch):
    """A Jira URL answering 302 to another host: the delivery fails (exit 3, retried next scan)
    and the other host receives nothing, so never the Authorization header (urllib would re-send
    it there as a GET)."""
    from pytest_httpserver import HTTPServer

    monkeypatch.setenv("JIRA_TOKEN", "jira-T0KEN-secret")
    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        other.expect_request("/steal").respond_with_json({"ok": True})
        httpserver.expect_request("/rest/api/2/issue", method="POST").respond_with_response(
            Response("", status=302, headers={"Location": other.url_for("/steal")}))
        d = tmp_path / "d"
        d.mkdir()
        (d / "k.env").write_text(f"K={github(rng)}\n")
        code, out = scan(str(tmp_path / "s.db"), d, "--notify-jira", httpserver.url_for("/"),
                         "--notify-jira-project", "SEC")
        assert code == 3 and "HTTP 302" in out and "T0KEN" not in out
        assert other.log == []
        assert [r.path for r, _ in httpserver.log] == ["/rest/api/2/issue"]
    finally:
        other.clear()
        other.stop()
