"""Tokens stay home: every HTTP client (python-gitlab, hvac, atlassian-python-api for Jira and
Confluence, PyGithub) sends credentials only to the configured origin. A second real HTTP server
on 127.0.0.1 plays the attacker's host: the configured server redirects to it (307/302/301) or
names it in absolute URLs (`_links.next`, an attachment's `content`, a pagination `Link`); it
records every request and must never see a token. The unit fails, the scan is incomplete (exit 3)."""

from __future__ import annotations

import json
import re
import secrets

import pytest
import requests
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from tokens import github, openai_project
from werkzeug import Request, Response

from scanner.cli import main
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.http_guard import OffHostRefused, PinnedSession, origin


@pytest.fixture
def evil():
    """The other host: answers everything with `{}` and records the headers it was sent."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    seen: list[dict[str, str]] = []

    def record(request: Request) -> Response:
        seen.append({**dict(request.headers), "_path": request.full_path})
        return Response("{}", content_type="application/json")

    server.expect_request(re.compile(".*")).respond_with_handler(record)
    yield server.url_for("").rstrip("/"), seen
    server.clear()
    if server.is_running():
        server.stop()


def no_token(seen: list[dict[str, str]], token: str) -> None:
    for headers in seen:
        assert token not in json.dumps(headers)


def redirect(to: str, status: int = 307) -> Response:
    return Response("", status=status, headers={"Location": to})


def test_pinned_session_refuses_other_origins_and_redirects(httpserver, evil):
    """The shared session: same origin passes, another port / host / scheme is refused before a
    byte is sent, and a redirect hop to another origin is refused too (custom headers included)."""
    evil_url, seen = evil
    httpserver.expect_request("/ok").respond_with_json({"ok": True})
    httpserver.expect_request("/hop").respond_with_response(redirect(evil_url + "/x"))
    s = PinnedSession(httpserver.url_for("/"))
    s.headers["PRIVATE-TOKEN"] = "tok-123"
    assert s.get(httpserver.url_for("/ok")).json() == {"ok": True}
    with pytest.raises(OffHostRefused, match="refused to send credentials to http://127.0.0.1:"):
        s.get(evil_url + "/direct")
    with pytest.raises(OffHostRefused):
        s.get(httpserver.url_for("/hop"))
    assert isinstance(OffHostRefused("http://x", origin("http://y")), requests.RequestException)
    assert seen == []
    assert origin("https://H.example/a") == origin("https://h.example:443/b")
    assert origin("http://h.example/") != origin("https://h.example/")


def test_gitlab_redirect_and_next_link_to_another_host(httpserver, evil, monkeypatch, tmp_path):
    """GitLab: a 307 to another host, and a pagination `Link` naming another host: PRIVATE-TOKEN
    never arrives there. The redirected unit fails (the scan is incomplete); the next page is
    read from the configured host instead (an instance whose `external_url` differs from the
    URL it was reached at names itself so), so no page is lost."""
    evil_url, seen = evil
    token = "glpat-" + secrets.token_urlsafe(16)
    monkeypatch.setenv("GITLAB_TOKEN", token)
    api = "/api/v4"
    asked: list[tuple[str, str]] = []

    def projects(request: Request) -> Response:
        if request.args.get("page") == "2":
            asked.append((request.args["page"], request.headers.get("PRIVATE-TOKEN", "")))
            return Response("[]", content_type="application/json")
        return Response("[]", content_type="application/json", headers={
            "Link": f'<{evil_url}{api}/groups/1/projects?page=2>; rel="next"',
            "X-Next-Page": "2", "X-Page": "1", "X-Total-Pages": "2"})

    httpserver.expect_request(f"{api}/groups/acme").respond_with_json(
        {"id": 1, "name": "acme", "path": "acme", "full_path": "acme", "web_url": "https://g/acme"})
    httpserver.expect_request(f"{api}/groups/1/descendant_groups").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/variables").respond_with_response(
        redirect(f"{evil_url}{api}/groups/1/variables"))
    httpserver.expect_request(f"{api}/groups/1/projects").respond_with_handler(projects)
    result = run_scan(["gitlab:acme"], ScanOptions(extra={"gitlab_url": httpserver.url_for("").rstrip("/"),
                                                          "cache_dir": str(tmp_path / "c")}))
    no_token(seen, token)
    assert seen == []
    assert asked == [("2", token)]
    assert result.stats.errors == [
        "acme variables: refused to send credentials to " + evil_url + " (only "
        + httpserver.url_for("").rstrip("/") + " is configured)"]


def test_gitlab_next_link_that_loops_is_a_failed_unit(httpserver, monkeypatch, tmp_path):
    """A server whose `Link` names the page just read again (empty pages, so python-gitlab would
    recurse until it crashed): the list ends with one line naming it, the scan is incomplete,
    no traceback, no hang."""
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-" + secrets.token_urlsafe(16))
    api = "/api/v4"
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request(f"{api}/groups/acme").respond_with_json(
        {"id": 1, "name": "acme", "path": "acme", "full_path": "acme", "web_url": "https://g/acme"})
    httpserver.expect_request(f"{api}/groups/1/descendant_groups").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/variables").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/projects").respond_with_json(
        [], headers={"Link": f'<{base}{api}/groups/1/projects?page=2>; rel="next"'})
    result = run_scan(["gitlab:acme"], ScanOptions(extra={"gitlab_url": base,
                                                          "cache_dir": str(tmp_path / "c")}))
    assert result.stats.errors == ["acme project list: the server's next page repeats a page "
                                   "already read (list not finished)"]


def test_gitlab_endless_empty_pages_are_a_failed_unit(httpserver, monkeypatch, tmp_path):
    """A server that answers every page of the project list empty, each naming a new next page
    (python-gitlab recurses once per page): one line naming the list, exit 3, no crash."""
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-" + secrets.token_urlsafe(16))
    api = "/api/v4"
    base = httpserver.url_for("").rstrip("/")

    def endless(request: Request) -> Response:
        n = int(request.args.get("page", "1"))
        return Response("[]", content_type="application/json", headers={
            "Link": f'<{base}{api}/groups/1/projects?page={n + 1}>; rel="next"'})

    httpserver.expect_request(f"{api}/groups/acme").respond_with_json(
        {"id": 1, "name": "acme", "path": "acme", "full_path": "acme", "web_url": "https://g/acme"})
    httpserver.expect_request(f"{api}/groups/1/descendant_groups").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/variables").respond_with_json([])
    httpserver.expect_request(f"{api}/groups/1/projects").respond_with_handler(endless)
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--gitlab-url", base,
                                    "--cache-dir", str(tmp_path / "c"), "gitlab:acme"])
    assert res.exit_code == 3, res.output
    assert json.loads(res.stdout)["incomplete_reasons"] == [
        "acme project list: unexpected response (empty pages without end)"]


def test_vault_redirect_to_another_host_keeps_the_token(httpserver, evil, monkeypatch):
    """hvac: a 307 from the Vault server to another host: X-Vault-Token does not follow it; the
    path is a failed unit and the CLI exits 3."""
    evil_url, seen = evil
    token = "hvs." + secrets.token_urlsafe(20)
    monkeypatch.setenv("VAULT_TOKEN", token)
    httpserver.expect_request(re.compile("/v1/.*")).respond_with_handler(
        lambda req: redirect(evil_url + req.full_path))
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--vault-path", "secret/agents",
                                    f"vault:{httpserver.url_for('').rstrip('/')}"])
    no_token(seen, token)
    assert seen == []
    assert res.exit_code == 3, res.output
    assert "refused to send credentials" in " ".join(json.loads(res.stdout)["incomplete_reasons"])
    assert token not in res.output


def _jira_issue(base: str, content_url: str) -> dict:
    return {"id": "10001", "key": "ENG-1", "self": f"{base}/rest/api/2/issue/ENG-1",
            "fields": {"project": {"key": "ENG"}, "summary": "s", "description": "d",
                       "comment": {"comments": [], "maxResults": 0, "startAt": 0, "total": 0},
                       "attachment": [{"id": "1", "filename": "a.txt", "mimeType": "text/plain",
                                       "size": 10, "content": content_url}]},
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}}


def test_jira_attachment_url_on_another_host(httpserver, evil, monkeypatch, rng):
    """Jira: an attachment whose `content` URL names another host, and one whose URL on the
    configured host redirects there: the token is sent to neither; the other issue content is
    still scanned."""
    evil_url, seen = evil
    token = secrets.token_urlsafe(24)
    monkeypatch.delenv("JIRA_USER", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", token)
    base = httpserver.url_for("").rstrip("/")
    key = openai_project(rng)
    one = _jira_issue(base, f"{evil_url}/secure/attachment/1/a.txt")
    two = {**_jira_issue(base, f"{base}/secure/attachment/2/b.txt"), "key": "ENG-2",
           "self": f"{base}/rest/api/2/issue/ENG-2"}
    two["fields"] = {**two["fields"], "description": f"key {key}"}
    httpserver.expect_request("/rest/api/2/search").respond_with_json(
        {"startAt": 0, "maxResults": 50, "total": 2, "issues": [one, two]})
    httpserver.expect_request("/secure/attachment/2/b.txt").respond_with_response(
        redirect(evil_url + "/secure/attachment/2/b.txt", 302))
    result = run_scan([f"jira:{base}"], ScanOptions(extra={"jql": "project = ENG",
                                                           "jira_cloud": "0"}))
    no_token(seen, token)
    assert seen == []
    refused = [e for e in result.stats.errors if "refused to send credentials" in e]
    assert len(refused) == 2, result.stats.errors
    assert len(result.credentials) == 1


def test_confluence_next_link_on_another_host(httpserver, evil, monkeypatch, rng):
    """Confluence: `_links.next` naming another host is not followed with the Authorization
    header (nor at all); the first page's secret is reported and the scan is incomplete."""
    evil_url, seen = evil
    token = secrets.token_urlsafe(24)
    for var in ("CONFLUENCE_USER", "JIRA_USER", "JIRA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONFLUENCE_TOKEN", token)
    key = github(rng)
    page = {"id": "1", "type": "page", "status": "current", "title": "t", "space": {"key": "ENG"},
            "version": {"number": 1},
            "body": {"storage": {"value": f"<p>{key}</p>", "representation": "storage"}},
            "_links": {"webui": "/spaces/ENG/pages/1"}}

    def content(request: Request) -> Response:
        body = {"results": [page] if request.args.get("type") == "page" else [], "start": 0,
                "limit": 25, "size": 1,
                "_links": {"next": f"{evil_url}/rest/api/content?start=25&spaceKey=ENG"}}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/rest/api/content").respond_with_handler(content)
    httpserver.expect_request(re.compile("/rest/api/content/1/.*")).respond_with_json(
        {"results": [], "start": 0, "limit": 25, "size": 0, "_links": {}})
    result = run_scan([f"confluence:{httpserver.url_for('').rstrip('/')}"],
                      ScanOptions(extra={"confluence_spaces": "ENG"}))
    no_token(seen, token)
    assert seen == []
    assert any("refused to send credentials" in e for e in result.stats.errors), result.stats.errors
    assert len(result.credentials) == 1


def test_github_redirects_and_links_to_another_host(httpserver, evil, monkeypatch, tmp_path):
    """PyGithub (which builds its own sessions): a 307 and a 301 to another host, and a `Link`
    naming another host: the token never reaches it, and each is a failed unit (exit 3), not a
    crash."""
    evil_url, seen = evil
    token = github(__import__("random").Random(4))
    monkeypatch.setenv("GITHUB_TOKEN", token)
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/users/acme").respond_with_json(
        {"login": "acme", "id": 1, "type": "Organization", "url": f"{base}/users/acme"})
    httpserver.expect_request("/orgs/acme").respond_with_json(
        {"login": "acme", "id": 1, "url": f"{base}/orgs/acme"})
    httpserver.expect_request("/orgs/acme/repos").respond_with_json(
        [], headers={"Link": f'<{evil_url}/orgs/acme/repos?page=2>; rel="next"'})
    httpserver.expect_request("/orgs/acme/actions/secrets").respond_with_response(
        redirect(evil_url + "/orgs/acme/actions/secrets", 301))
    httpserver.expect_request(re.compile("/users/acme/gists.*|/orgs/acme/members.*")).respond_with_response(
        redirect(evil_url + "/elsewhere", 307))
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--github-url", base,
                                    "--cache-dir", str(tmp_path / "c"), "github:acme"])
    no_token(seen, token)
    assert res.exit_code == 3, res.output
    assert "internal error" not in res.output
    assert token not in res.output


@pytest.mark.parametrize("user", [None, "bot@example.com"])
def test_jira_cloud_attachment_via_the_media_host(httpserver, evil, monkeypatch, rng, user):
    """Jira Cloud redirects an attachment download to its media host (a signed URL). That hop is
    followed with a plain request: the media host gets no Authorization header, no cookie and
    never the token (bearer or basic); the attachment's secret is found and the scan is complete.
    With the default media hosts (the real one only) the same redirect is refused, and a redirect
    to any other host is refused whatever the media hosts are."""
    evil_url, seen = evil
    token = secrets.token_urlsafe(24)
    key = openai_project(rng)
    monkeypatch.setenv("JIRA_TOKEN", token)
    if user:
        monkeypatch.setenv("JIRA_USER", user)
    else:
        monkeypatch.delenv("JIRA_USER", raising=False)
    media = HTTPServer(host="127.0.0.1", port=0)
    media.start()
    got: list[dict[str, str]] = []

    def download(request: Request) -> Response:
        got.append(dict(request.headers))
        return Response(f"OPENAI_API_KEY={key}\n", content_type="text/plain")

    try:
        media.expect_request("/file/abc/binary").respond_with_handler(download)
        media_url = media.url_for("").rstrip("/")
        base = httpserver.url_for("").rstrip("/")
        one = _jira_issue(base, f"{base}/secure/attachment/1/a.txt")
        two = {**_jira_issue(base, f"{base}/secure/attachment/2/b.txt"), "key": "ENG-2"}
        httpserver.expect_request("/rest/api/2/search").respond_with_json(
            {"startAt": 0, "maxResults": 50, "total": 1, "issues": [one]})
        httpserver.expect_request("/secure/attachment/1/a.txt").respond_with_response(
            redirect(media_url + "/file/abc/binary?token=signed", 303))
        extra = {"jql": "project = ENG", "jira_cloud": "0"}
        result = run_scan([f"jira:{base}"], ScanOptions(extra={**extra, "jira_media_hosts": media_url}))
        assert result.stats.errors == []
        assert [c.rule_id for c in result.credentials] == ["openai.project"]
        assert len(got) == 1 and "Authorization" not in got[0] and "Cookie" not in got[0]
        no_token(got, token)

        refused = run_scan([f"jira:{base}"], ScanOptions(extra=extra))  # the real media host only
        assert any("refused to send credentials" in e for e in refused.stats.errors)
        assert len(got) == 1

        httpserver.clear_all_handlers()
        httpserver.expect_request("/rest/api/2/search").respond_with_json(
            {"startAt": 0, "maxResults": 50, "total": 1, "issues": [two]})
        httpserver.expect_request("/secure/attachment/2/b.txt").respond_with_response(
            redirect(evil_url + "/file/abc/binary", 302))
        other = run_scan([f"jira:{base}"], ScanOptions(extra={**extra, "jira_media_hosts": media_url}))
        assert any("refused to send credentials" in e for e in other.stats.errors)
        assert seen == []
    finally:
        media.clear()
        media.stop()
