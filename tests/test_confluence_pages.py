"""confluence:URL through the real atlassian-python-api against a local HTTP server on 127.0.0.1
serving Confluence REST v1 JSON: content pages linked by `_links.next` (start/limit), historical
versions, a 429 with Retry-After, a 404 and a 401."""

from __future__ import annotations

import json
import os
import secrets
import time

import pytest
from tokens import anthropic, github, huggingface, openai_project, slack_bot
from werkzeug import Request, Response

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.confluence_pages import (
    ConfluenceExportSource,
    ConfluenceSource,
    strip_tags,
)


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


@pytest.fixture
def token(monkeypatch):
    value = secrets.token_urlsafe(24)
    for var in ("CONFLUENCE_USER", "JIRA_USER", "JIRA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONFLUENCE_TOKEN", value)
    return value


def page(pid, title, body, version, space="ENG"):
    return {"id": pid, "type": "page", "status": "current", "title": title,
            "space": {"key": space}, "version": {"number": version},
            "body": {"storage": {"value": body, "representation": "storage"}},
            "_links": {"webui": f"/spaces/{space}/pages/{pid}"}}


def test_strip_tags_keeps_lines_and_decodes_entities():
    """Tags go, entities are decoded, block tags separate words, line breaks stay where they were."""
    assert strip_tags("<p>a&amp;b</p><p>c<span>d</span></p>\n<br/>x") == " a&b  cd \n x"


def test_crawl_pages_versions_retry_and_404(httpserver, rng, token):
    """Two result pages followed through `_links.next`; current bodies are live, older versions
    historical; a secret split by an inline tag is found in the stripped text on its raw line; the
    429 is retried after Retry-After; a missing version (404) is named and the rest kept."""
    s = {"current": openai_project(rng), "old": anthropic(rng), "second": github(rng),
         "split": slack_bot(rng), "comment": huggingface(rng)}
    half = len(s["split"]) // 2
    p1 = page("101", "Agent runbook", f"<h1>Setup</h1>\n<p>key <code>{s['current']}</code></p>\n"
              f"<p>bot: {s['split'][:half]}<span>{s['split'][half:]}</span></p>", 3)
    p2 = page("202", "Notes", f"<p>{s['second']}</p>", 1)
    base = httpserver.url_for("/").rstrip("/")

    def content(request: Request) -> Response:
        start = int(request.args.get("start", 0))
        if request.args["type"] == "blogpost":
            return Response('{"results": [], "_links": {}}', content_type="application/json")
        if start == 0:
            body = {"results": [p1], "start": 0, "limit": 1, "size": 1,
                    "_links": {"base": base, "context": "",
                               "next": "/rest/api/content?spaceKey=ENG&type=page&limit=1&start=1"
                                       "&expand=body.storage,version,space"}}
        else:
            body = {"results": [p2], "start": 1, "limit": 1, "size": 1, "_links": {"base": base}}
        return Response(json.dumps(body), content_type="application/json")

    def historical(request: Request) -> Response:
        v = int(request.args["version"])
        if v == 1:
            return Response('{"statusCode":404,"message":"No content found"}', status=404,
                            content_type="application/json")
        old = page("101", "Agent runbook", f"<p>old key {s['old']}</p>", v)
        del old["space"], old["_links"]
        return Response(json.dumps(old), content_type="application/json")

    httpserver.expect_request("/rest/api/content").respond_with_handler(content)
    httpserver.expect_request("/rest/api/content/101/child/comment").respond_with_json(
        {"results": [{"id": "901", "type": "comment", "version": {"number": 1},
                      "body": {"storage": {"value": f"<p>use {s['comment']}</p>"}}}],
         "_links": {"base": base}})
    httpserver.expect_request("/rest/api/content/202/child/comment").respond_with_json(
        {"results": [], "_links": {"base": base}})
    httpserver.expect_oneshot_request("/rest/api/content/101").respond_with_response(
        Response("{}", status=429, headers={"Retry-After": "1"}, content_type="application/json"))
    httpserver.expect_request("/rest/api/content/101").respond_with_handler(historical)

    t0 = time.monotonic()
    said: list[str] = []
    result = run_scan([f"confluence:{base}"], ScanOptions(extra={"confluence_spaces": "ENG"}),
                      progress=said.append)
    assert time.monotonic() - t0 >= 1.0
    assert said[1:] == [f"confluence:{base}: space ENG pages done, 2 pages",
                        f"confluence:{base}: space ENG blogposts done, 2 pages"]
    fps = {c.fingerprint: c for c in result.credentials}
    assert len(fps) == len(s)
    where = {n: [(loc.source, loc.container, loc.path, loc.line, loc.state, loc.url)
                 for loc in fps[fingerprint(v)].locations] for n, v in s.items()}
    url = f"{base}/spaces/ENG/pages/101"
    assert where == {
        "current": [("confluence", "ENG", "101", 2, "live", url)],
        "old": [("confluence", "ENG", "101#v2", 1, "historical", url)],
        "second": [("confluence", "ENG", "202", 1, "live", f"{base}/spaces/ENG/pages/202")],
        "split": [("confluence", "ENG", "101", 3, "live", url)],
        "comment": [("confluence", "ENG", "101#comment-901", 1, "live",
                     f"{url}?focusedCommentId=901")],
    }
    assert dict(fps[fingerprint(s["current"])].locations[0].attributes) == \
        {"title": "Agent runbook", "version": "3"}
    assert result.stats.errors == ["Confluence: page 101 version 1: HTTP 404"]
    seq = [(r.path, r.args.get("type"), r.args.get("start"), r.args.get("version"))
           for r, _ in httpserver.log]
    assert seq == [("/rest/api/content", "page", None, None),
                   ("/rest/api/content/101", None, None, "2"),     # 429
                   ("/rest/api/content/101", None, None, "2"),
                   ("/rest/api/content/101", None, None, "1"),     # 404
                   ("/rest/api/content/101/child/comment", None, None, None),
                   ("/rest/api/content", "page", "1", None),
                   ("/rest/api/content/202/child/comment", None, None, None),
                   ("/rest/api/content", "blogpost", None, None)]
    assert httpserver.log[0][0].args["spaceKey"] == "ENG"
    assert httpserver.log[1][0].args["status"] == "historical"
    assert all(r.headers["Authorization"] == f"Bearer {token}" for r, _ in httpserver.log)


def test_spaces_listed_when_not_given(httpserver, rng, token):
    """Without --spaces every listed space is crawled."""
    key = openai_project(rng)
    httpserver.expect_request("/rest/api/space").respond_with_json(
        {"results": [{"key": "A"}, {"key": "B"}], "_links": {}})
    httpserver.expect_request("/rest/api/content").respond_with_handler(
        lambda r: Response(json.dumps({"results": [page("1", "t", key, 1, r.args["spaceKey"])]
                                       if r.args["spaceKey"] == "B" and r.args["type"] == "page"
                                       else [], "_links": {}}),
                           content_type="application/json"))
    httpserver.expect_request("/rest/api/content/1/child/comment").respond_with_json(
        {"results": []})
    [cred] = run_scan([f"confluence:{httpserver.url_for('/')}"]).credentials
    assert [(loc.container, loc.path) for loc in cred.locations] == [("B", "1")]


def test_401_names_confluence(httpserver, token):
    """A rejected token ends the space's crawl with one line naming the service and the space;
    no token in it."""
    httpserver.expect_request("/rest/api/content").respond_with_data("no", status=401)
    stats = ScanStats()
    base = httpserver.url_for("/").rstrip("/")
    assert list(ConfluenceSource(base, ["ENG"]).chunks(stats)) == []
    assert stats.errors == [f"Confluence rejected the credentials: 401 ({base}, space ENG)"]
    assert token not in stats.errors[0]


def test_export_versions(tmp_path, rng):
    """An export listing one page at two versions: the newer is live, the older historical."""
    new, old = openai_project(rng), github(rng)
    f = tmp_path / "confluence.json"
    f.write_text(json.dumps({"results": [page("7", "p", f"<p>{new}</p>", 2),
                                         page("7", "p", f"<p>{old}</p>", 1)],
                             "_links": {"base": "https://wiki.acme.test"}}))
    fps = {c.fingerprint: c for c in run_scan([f"confluence-export:{f}"]).credentials}
    [loc] = fps[fingerprint(new)].locations
    assert (loc.path, loc.state, loc.url) == ("7", "live", "https://wiki.acme.test/spaces/ENG/pages/7")
    [loc] = fps[fingerprint(old)].locations
    assert (loc.path, loc.state) == ("7#v1", "historical")
    assert len(list(ConfluenceExportSource(f).chunks(ScanStats()))) == 4


def test_cloud_basic_auth_falls_back_to_jira_credentials(httpserver, rng, monkeypatch):
    """Atlassian Cloud shares one API token: without CONFLUENCE_* the JIRA_USER / JIRA_TOKEN pair
    is sent as HTTP basic auth."""
    for var in ("CONFLUENCE_USER", "CONFLUENCE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JIRA_USER", "bot@acme.test")
    monkeypatch.setenv("JIRA_TOKEN", secrets.token_hex(12))
    key = openai_project(rng)
    httpserver.expect_request("/rest/api/content", query_string={
        "spaceKey": "ENG", "type": "page", "expand": "body.storage,version,space",
        "limit": "25"}).respond_with_json({"results": [page("9", "t", f"<p>{key}</p>", 1)]})
    httpserver.expect_request("/rest/api/content").respond_with_json({"results": []})
    httpserver.expect_request("/rest/api/content/9/child/comment").respond_with_json({"results": []})
    [cred] = run_scan([f"confluence:{httpserver.url_for('/')}"],
                      ScanOptions(extra={"confluence_spaces": "ENG"})).credentials
    assert cred.fingerprint == fingerprint(key)
    assert len(httpserver.log) == 3
    for request, _ in httpserver.log:
        assert request.authorization.type == "basic"
        assert (request.authorization.username, request.authorization.password) == \
            ("bot@acme.test", os.environ["JIRA_TOKEN"])
