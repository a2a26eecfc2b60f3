"""jira:URL through the real atlassian-python-api against a local HTTP server on 127.0.0.1 that
serves Jira REST v2 JSON: search pages (startAt/maxResults/total), comment pages, changelog,
attachments, a 429 with Retry-After, a 404 and a 401."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time

import pytest
from tokens import anthropic, github, huggingface, openai_project, slack_bot
from werkzeug import Request, Response

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.jira_tickets import JiraExportSource, JiraSource


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.fixture
def jira_token(monkeypatch):
    token = secrets.token_urlsafe(24)
    monkeypatch.delenv("JIRA_USER", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", token)
    return token


def issue(server, key, *, description="", comments=(), comment_total=None, histories=(),
          attachments=()):
    base = server.url_for("/").rstrip("/")
    return {
        "id": str(10000 + int(key.split("-")[1])), "key": key,
        "self": f"{base}/rest/api/2/issue/{key}",
        "fields": {
            "project": {"key": key.split("-")[0]}, "summary": f"Ticket {key}",
            "description": description,
            "comment": {"comments": [{"id": cid, "body": body} for cid, body in comments],
                        "maxResults": len(comments), "startAt": 0,
                        "total": comment_total if comment_total is not None else len(comments)},
            "attachment": [{"id": aid, "filename": name, "mimeType": mime, "size": 100,
                            "content": f"{base}/secure/attachment/{aid}/{name}"}
                           for aid, name, mime in attachments],
        },
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories),
                      "histories": [{"id": hid, "created": "2025-01-02T10:00:00.000+0000",
                                     "items": [{"field": field, "fieldtype": "jira",
                                                "from": None, "fromString": old,
                                                "to": None, "toString": new}]}
                                    for hid, field, old, new in histories]},
    }


@pytest.fixture
def jira(httpserver, rng):
    """A Jira with two issues on two search pages, secrets in every kind of place."""
    s = {"desc": openai_project(rng), "comment": github(rng), "comment2": slack_bot(rng),
         "history": anthropic(rng), "attachment": huggingface(rng)}
    one = issue(httpserver, "ENG-1", description=f"Agent setup\nkey: {s['desc']}\n",
                comments=[("10001", f"use {s['comment']} for now")], comment_total=2,
                histories=[("20001", "description", f"old text {s['history']}", "Agent setup")],
                attachments=[("30001", "notes.txt", "text/plain"),
                             ("30002", "screen.png", "image/png")])
    two = issue(httpserver, "OPS-2", description="nothing secret here",
                attachments=[("30003", "gone.log", "text/plain")])
    pages = {0: [one], 1: [two]}

    def search(request: Request) -> Response:
        start = int(request.args.get("startAt", 0))
        body = {"startAt": start, "maxResults": 1, "total": 2, "issues": pages.get(start, [])}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/rest/api/2/search").respond_with_handler(search)
    httpserver.expect_oneshot_request("/rest/api/2/issue/ENG-1/comment").respond_with_response(
        Response('{"errorMessages":["rate limited"]}', status=429, headers={"Retry-After": "1"},
                 content_type="application/json"))
    httpserver.expect_request("/rest/api/2/issue/ENG-1/comment").respond_with_json(
        {"startAt": 1, "maxResults": 50, "total": 2,
         "comments": [{"id": "10002", "body": f"slack: {s['comment2']}"}]})
    httpserver.expect_request("/secure/attachment/30001/notes.txt").respond_with_data(
        f"debug log\nHF_TOKEN={s['attachment']}\n", content_type="text/plain")
    httpserver.expect_request("/secure/attachment/30003/gone.log").respond_with_json(
        {"errorMessages": ["attachment not found"]}, status=404)
    return s


def test_crawl_finds_every_kind_of_place_and_honours_retry_after(httpserver, jira, jira_token):
    """Descriptions, comments (both comment pages), changelog values and text attachments are
    scanned; the 429 is retried after its Retry-After; the 404 attachment is named in the errors
    while everything else is kept; requests carry the PAT as a Bearer token."""
    base = httpserver.url_for("/").rstrip("/")
    t0 = time.monotonic()
    said: list[str] = []
    result = run_scan([f"jira:{base}"], ScanOptions(extra={"jql": "project in (ENG, OPS)"}),
                      progress=said.append)
    elapsed = time.monotonic() - t0
    assert said[-1] == f"jira:{base}: 2/2 issues"            # units done / total
    fps = {c.fingerprint: c for c in result.credentials}
    where = {name: [(loc.source, loc.container, loc.path, loc.line, loc.state, loc.url)
                    for loc in fps[fingerprint(v)].locations] for name, v in jira.items()}
    assert where == {
        "desc": [("jira", "ENG", "ENG-1#description", 2, "live", f"{base}/browse/ENG-1")],
        "comment": [("jira", "ENG", "ENG-1#comment-10001", 1, "live",
                     f"{base}/browse/ENG-1?focusedCommentId=10001")],
        "comment2": [("jira", "ENG", "ENG-1#comment-10002", 1, "live",
                      f"{base}/browse/ENG-1?focusedCommentId=10002")],
        "history": [("jira", "ENG", "ENG-1#history-20001/description/from", 1, "historical",
                      f"{base}/browse/ENG-1")],
        "attachment": [("jira", "ENG", "ENG-1#attachment-30001/notes.txt", 2, "live",
                        f"{base}/browse/ENG-1")],
    }
    assert result.stats.errors == ["Jira: OPS-2 attachment gone.log: HTTP 404"]
    assert result.stats.skipped.get("binary") == 1          # the png is never downloaded
    assert elapsed >= 1.0                                     # Retry-After: 1 was honoured
    seq = [(r.path, r.args.get("startAt")) for r, _ in httpserver.log]
    assert seq == [
        ("/rest/api/2/search", "0"),
        ("/rest/api/2/issue/ENG-1/comment", "1"),            # 429
        ("/rest/api/2/issue/ENG-1/comment", "1"),            # retried
        ("/secure/attachment/30001/notes.txt", None),
        ("/rest/api/2/search", "1"),
        ("/secure/attachment/30003/gone.log", None),
    ]
    first = httpserver.log[0][0]
    assert first.args["jql"] == "project in (ENG, OPS)" and first.args["expand"] == "changelog"
    assert all(r.headers["Authorization"] == f"Bearer {jira_token}" for r, _ in httpserver.log)
    assert jira_token not in " ".join(result.stats.errors)


def test_rate_limit_is_bounded(httpserver, jira_token, monkeypatch):
    """A search that stays rate limited gives up after a bounded number of attempts, as one error."""
    monkeypatch.setattr("scanner.sources.atlassian_client.MAX_WAIT", 0.0)
    httpserver.expect_request("/rest/api/2/search").respond_with_response(
        Response("{}", status=429, headers={"Retry-After": "30"}, content_type="application/json"))
    stats = ScanStats()
    chunks = list(JiraSource(httpserver.url_for("/")).chunks(stats))
    assert chunks == []
    assert stats.errors == ["Jira: search page startAt=0: still rate limited (429) after 4 attempts"]
    assert len(httpserver.log) == 4


def test_failure_mid_crawl_keeps_earlier_pages(httpserver, rng, jira_token):
    """Page 2 of the search fails: page 1's findings are kept and the scan is incomplete."""
    key = openai_project(rng)
    one = issue(httpserver, "ENG-1", description=key)

    def search(request: Request) -> Response:
        if request.args.get("startAt") == "0":
            return Response(json.dumps({"startAt": 0, "maxResults": 1, "total": 5, "issues": [one]}),
                            content_type="application/json")
        return Response('{"errorMessages":["boom"]}', status=500, content_type="application/json")

    httpserver.expect_request("/rest/api/2/search").respond_with_handler(search)
    result = run_scan([f"jira:{httpserver.url_for('/')}"])
    assert [c.fingerprint for c in result.credentials] == [fingerprint(key)]
    assert result.incomplete and result.stats.errors == ["Jira: search page startAt=1: HTTP 500"]


def test_cloud_auth_and_token_pagination(httpserver, rng, monkeypatch):
    """Cloud style: email + API token as HTTP basic, search through `search/jql` pages linked by
    `nextPageToken` until `isLast`."""
    monkeypatch.setenv("JIRA_USER", "bot@acme.test")
    monkeypatch.setenv("JIRA_TOKEN", "cloud-token-" + secrets.token_hex(8))
    a, b = openai_project(rng), github(rng)
    pages = {None: {"issues": [issue(httpserver, "ENG-1", description=a)], "nextPageToken": "p2",
                    "isLast": False},
             "p2": {"issues": [issue(httpserver, "ENG-2", description=b)], "isLast": True}}
    httpserver.expect_request("/rest/api/3/search/jql").respond_with_handler(
        lambda r: Response(json.dumps(pages[r.args.get("nextPageToken")]),
                           content_type="application/json"))
    stats = ScanStats()
    source = JiraSource(httpserver.url_for("/"), "project = ENG", cloud=True)
    texts = b"".join(c.data for c in source.chunks(stats))
    assert a.encode() in texts and b.encode() in texts and not stats.errors
    assert [r.args.get("nextPageToken") for r, _ in httpserver.log] == [None, "p2"]
    assert all(r.authorization.type == "basic" and r.authorization.username == "bot@acme.test"
               for r, _ in httpserver.log)


def test_401_is_one_clear_line_without_the_token(httpserver, jira_token):
    """A rejected token: exit 3, one stderr line naming Jira and the site, no token anywhere."""
    httpserver.expect_request("/rest/api/2/search").respond_with_data(
        "Unauthorized", status=401, content_type="text/plain")
    base = httpserver.url_for("/").rstrip("/")
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", f"jira:{base}"],
                       capture_output=True, text=True, env={**os.environ})
    assert p.returncode == 3
    assert p.stderr.strip().splitlines() == [
        f"sprawlscan: incomplete: Jira rejected the credentials: 401 ({base})"]
    assert jira_token not in p.stdout + p.stderr
    assert json.loads(p.stdout)["incomplete"] is True


def test_export_file_reads_the_same_shape(tmp_path, rng, httpserver):
    """A saved search response gives the same locations, with links from each issue's `self`."""
    key, old = openai_project(rng), anthropic(rng)
    doc = {"startAt": 0, "maxResults": 50, "total": 1, "issues": [
        issue(httpserver, "SUP-7", description=f"x\n{key}", comments=[("5", key)],
              histories=[("9", "Secret", old, "rotated")])]}
    f = tmp_path / "jira.json"
    f.write_text(json.dumps(doc))
    stats = ScanStats()
    chunks = list(JiraExportSource(f).chunks(stats))
    paths = [c.locations[0].path for c in chunks]
    assert paths == ["SUP-7#summary", "SUP-7#description", "SUP-7#comment-5",
                     "SUP-7#history-9/Secret/from", "SUP-7#history-9/Secret/to"]
    assert chunks[1].locations[0].url == httpserver.url_for("/browse/SUP-7")
    result = run_scan([f"jira-export:{f}"])
    [cred_new, cred_old] = sorted(result.credentials, key=lambda c: c.rule_id != "openai.project")
    assert len(cred_new.locations) == 2 and cred_old.locations[0].state == "historical"
    assert httpserver.log == []


@pytest.mark.parametrize("cloud", [False, True])
def test_changelog_beyond_the_search_result(httpserver, rng, jira_token, cloud):
    """When the search result holds only part of an issue's changelog, the rest is fetched:
    Server / DC through `issue/KEY?expand=changelog`, Cloud through paged `issue/KEY/changelog`."""
    first, later = anthropic(rng), openai_project(rng)
    one = issue(httpserver, "ENG-5", histories=[("1", "description", f"a {first}", "b")])
    one["changelog"]["total"] = 2
    extra = {"id": "2", "items": [{"field": "Token", "fromString": later, "toString": ""}]}
    if cloud:
        httpserver.expect_request("/rest/api/3/search/jql").respond_with_json(
            {"issues": [one], "isLast": True})
        httpserver.expect_request("/rest/api/2/issue/ENG-5/changelog").respond_with_json(
            {"startAt": 0, "maxResults": 100, "total": 2, "isLast": True,
             "values": [one["changelog"]["histories"][0], extra]})
    else:
        httpserver.expect_request("/rest/api/2/search").respond_with_json(
            {"startAt": 0, "maxResults": 50, "total": 1, "issues": [one]})
        httpserver.expect_request("/rest/api/2/issue/ENG-5").respond_with_json(
            {**one, "changelog": {"startAt": 0, "maxResults": 2, "total": 2,
                                  "histories": [one["changelog"]["histories"][0], extra]}})
    stats = ScanStats()
    chunks = list(JiraSource(httpserver.url_for("/"), cloud=cloud).chunks(stats))
    assert not stats.errors
    hist = [c.locations[0].path for c in chunks if c.locations[0].state == "historical"]
    assert hist == ["ENG-5#history-1/description/from", "ENG-5#history-1/description/to",
                    "ENG-5#history-2/Token/from"]
    assert later.encode() in chunks[-1].data
    assert httpserver.log[-1][0].path == ("/rest/api/2/issue/ENG-5/changelog" if cloud
                                          else "/rest/api/2/issue/ENG-5")
