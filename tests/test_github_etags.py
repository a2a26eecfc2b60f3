"""Incremental GitHub rescans with ETags: with a datastore, a repository's issue, issue-comment
and review-comment lists are asked for with `If-None-Match`; the local GitHub-API server answers
304 with no body when nothing changed (real ETag semantics, `fake_api.FakeAPI`), and the scan
carries over what the previous scan found there. A changed list (new, edited or deleted item) is
crawled as without ETags; a list not read to its end is crawled again; nothing is announced on
an unchanged rescan. SQLite and PostgreSQL give the same results."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_api import FakeAPI
from tokens import github, openai_project

from scanner.cli import main
from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, scan_and_record
from scanner.store import Store

TOKEN = "ghp_notarealtokenjustfortests0000000000"
WEB = "https://github.example"
LISTS = ("issues", "issues/comments", "pulls/comments", "actions/secrets", "environments")


def repo_json(api: FakeAPI, name: str, clone_url: str) -> dict:
    return {"id": len(name), "name": name, "full_name": f"acme/{name}",
            "owner": {"login": "acme", "type": "Organization"}, "private": False,
            "html_url": f"{WEB}/acme/{name}", "clone_url": clone_url,
            "url": api.url(f"/repos/acme/{name}"), "default_branch": "main", "has_issues": True,
            "has_wiki": False}


def comment(api: FakeAPI, cid: int, body: str) -> dict:
    return {"id": cid, "body": body, "html_url": f"{WEB}/acme/agent/issues/3#issuecomment-{cid}",
            "issue_url": api.url("/repos/acme/agent/issues/3"),
            "url": api.url(f"/repos/acme/agent/issues/comments/{cid}")}


class Org:
    """acme: `agent` with a token in an issue, an issue comment and a review comment, and one
    Actions secret name; `tools` with empty lists; no environments, no members (no gists)."""

    def __init__(self, httpserver, make_repo, bare_clone, rng, tmp_path: Path) -> None:
        self.api = api = FakeAPI(httpserver)
        self.s = {"issue": github(rng), "comment": github(rng, "ghs"), "review": openai_project(rng)}
        self.cache = tmp_path / "cache"
        repos = []
        for name in ("agent", "tools"):
            r = make_repo(name)
            r.write("README.md", f"{name}\n")
            r.commit("init")
            repos.append(repo_json(api, name, bare_clone(r)))
        api.json("/users/acme", {"login": "acme", "id": 1, "type": "Organization",
                                 "url": api.url("/users/acme")})
        api.json("/orgs/acme", {"login": "acme", "id": 1, "url": api.url("/orgs/acme")})
        api.json("/orgs/acme/repos", repos)
        api.json("/orgs/acme/actions/secrets", {"total_count": 0, "secrets": []})
        api.json("/orgs/acme/members", [])
        for name in ("agent", "tools"):
            base = f"/repos/acme/{name}"
            for path in LISTS:
                api.json(f"{base}/{path}", [])
            api.json(f"{base}/actions/secrets", {"total_count": 0, "secrets": []})
            api.json(f"{base}/environments", {"total_count": 0, "environments": []})
        base = "/repos/acme/agent"
        api.json(f"{base}/actions/secrets", {"total_count": 1, "secrets": [{"name": "OPENAI_API_KEY"}]})
        api.json(f"{base}/issues", [{"id": 11, "number": 3, "title": "broken",
                                     "body": f"token {self.s['issue']}", "state": "open",
                                     "html_url": f"{WEB}/acme/agent/issues/3",
                                     "url": api.url(f"{base}/issues/3")}])
        self.comments = [comment(api, 345, f"try this:\n{self.s['comment']}\n")]
        api.json(f"{base}/issues/comments", self.comments)
        api.json(f"{base}/pulls/comments", [{
            "id": 9, "body": f"do not commit {self.s['review']}", "path": "app/.env",
            "diff_hunk": "@@ -1 +1 @@\n LOG=info\n", "html_url": f"{WEB}/acme/agent/pull/4#discussion_r9",
            "pull_request_url": api.url(f"{base}/pulls/4"), "url": api.url(f"{base}/pulls/comments/9")}])

    def options(self, workers: int = 1) -> ScanOptions:
        return ScanOptions(workers=workers, extra={"github_url": self.api.base,
                                                   "cache_dir": str(self.cache)})

    def list_answers(self, since: int = 0) -> list[tuple[str, int]]:
        return [(p, st) for p, st in self.api.answers[since:]
                if p.startswith("/repos/") and p.split("/", 4)[4] in LISTS]


@pytest.fixture
def acme(httpserver, make_repo, bare_clone, rng, tmp_path, monkeypatch) -> Org:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return Org(httpserver, make_repo, bare_clone, rng, tmp_path)


def locs(result) -> dict[str, list]:
    return {c.fingerprint: sorted((l.source, l.container, l.path, l.line, l.state, l.url)
                                  for l in c.locations) for c in result.credentials}


def names(result) -> set[tuple[str, str, str]]:
    return {(f.kind, f.scope, f.name) for f in result.facts if f.kind == "actions-secret"}


def twice(org: Org, db: str | Path, workers: int = 1):
    with Store(db) as store:
        _, first = scan_and_record(["github:acme"], org.options(workers), store)
        mark = len(org.api.answers)
        _, second = scan_and_record(["github:acme"], org.options(workers), store)
        events = [e["kind"] for e in store.events()]
    return first, second, org.list_answers(mark), events


@pytest.mark.parametrize("workers", [1, 2])
def test_unchanged_rescan_gets_304s_and_reports_the_same(acme, tmp_path, workers):
    """Second scan: the ten list requests (issues, issue comments, review comments, secret
    names, environments x 2 repos) are conditional and all answered 304 (no body re-sent); the
    credentials, every location and the records (secret names) are the same as the first scan's
    and nothing went gone. In-process (1 worker) and in pool tasks (2 workers: the ETags travel
    in the unit's slice)."""
    first, second, answers, events = twice(acme, tmp_path / "s.db", workers)
    assert first.stats.errors == [] and second.stats.errors == []
    assert len(answers) == 10 and {st for _, st in answers} == {304}
    assert locs(second) == locs(first)
    assert ("actions-secret", "acme/agent", "OPENAI_API_KEY") in names(second)
    assert names(second) == names(first)
    assert set(locs(first)) == {fingerprint(v) for v in acme.s.values()}
    assert events == ["found"] * 3


def test_a_new_comment_between_scans_is_found(acme, tmp_path):
    """A comment added after the first scan changes that list's ETag: it is crawled (200) and
    its token found; the unchanged lists answer 304 and keep their findings."""
    db = tmp_path / "s.db"
    new = github(__import__("random").Random(7))
    with Store(db) as store:
        scan_and_record(["github:acme"], acme.options(), store)
        acme.api.json("/repos/acme/agent/issues/comments",
                      [comment(acme.api, 346, f"new {new}"), *acme.comments])
        mark = len(acme.api.answers)
        _, second = scan_and_record(["github:acme"], acme.options(), store)
    answers = dict(acme.list_answers(mark))
    assert answers.pop("/repos/acme/agent/issues/comments") == 200
    assert set(answers.values()) == {304}
    assert set(locs(second)) == {fingerprint(v) for v in [*acme.s.values(), new]}


def test_a_deleted_comment_goes_as_without_etags(acme, tmp_path):
    """A deleted comment changes its list's answer: crawled again, its credential is gone from
    the rescan (a `gone` event), exactly as a scan into a fresh datastore reports it."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        scan_and_record(["github:acme"], acme.options(), store)
        acme.api.json("/repos/acme/agent/issues/comments", [])
        _, second = scan_and_record(["github:acme"], acme.options(), store)
        gone = [e["fingerprint"] for e in store.events() if e["kind"] == "gone"]
    with Store(tmp_path / "fresh.db") as store:
        _, fresh = scan_and_record(["github:acme"], acme.options(), store)
    assert gone == [fingerprint(acme.s["comment"])]
    assert locs(second) == locs(fresh)
    assert fingerprint(acme.s["comment"]) not in locs(second)


def test_a_list_that_failed_last_time_is_crawled_in_full(acme, tmp_path):
    """The first scan fails on agent's issue comments (incomplete, no ETag stored for that list):
    the rescan asks for it without `If-None-Match`, gets the body (200) and finds the token; the
    lists read to their end last time answer 304."""
    db = tmp_path / "s.db"
    acme.api.fail("/repos/acme/agent/issues/comments", 404, times=2)
    with Store(db) as store:
        _, first = scan_and_record(["github:acme"], acme.options(), store)
        assert first.incomplete and fingerprint(acme.s["comment"]) not in locs(first)
        mark = len(acme.api.answers)
        _, second = scan_and_record(["github:acme"], acme.options(), store)
    answers = dict(acme.list_answers(mark))
    assert answers.pop("/repos/acme/agent/issues/comments") == 200
    assert set(answers.values()) == {304}
    assert not second.incomplete
    assert set(locs(second)) == {fingerprint(v) for v in acme.s.values()}


def test_a_list_over_several_pages_is_never_conditional(acme, tmp_path):
    """Only one-page lists are asked for with an ETag: a comment list over two pages (its last
    page full) is crawled in full each time, and a comment added to it is found."""
    db = tmp_path / "s.db"
    path = "/repos/acme/agent/issues/comments"
    acme.api.pages(path, [acme.comments, [comment(acme.api, 400, "ok")]])
    with Store(db) as store:
        scan_and_record(["github:acme"], acme.options(), store)
        new = openai_project(__import__("random").Random(3))
        acme.api.pages(path, [acme.comments, [comment(acme.api, 400, "ok"),
                                              comment(acme.api, 401, f"k {new}")]])
        mark = len(acme.api.answers)
        _, second = scan_and_record(["github:acme"], acme.options(), store)
    assert (path, 304) not in acme.list_answers(mark)
    assert fingerprint(new) in locs(second)
    assert set(locs(second)) >= {fingerprint(v) for v in acme.s.values()}


def test_sqlite_and_postgres_give_the_same_rescan(acme, tmp_path, pg_url):
    """The unchanged rescan on PostgreSQL: the same 304s and the same credentials and locations
    as on SQLite."""
    on_sqlite = twice(acme, tmp_path / "s.db")
    on_pg = twice(acme, pg_url)
    assert [st for _, st in on_pg[2]] == [st for _, st in on_sqlite[2]] == [304] * 10
    assert locs(on_pg[1]) == locs(on_sqlite[1]) == locs(on_sqlite[0])
    assert on_pg[3] == on_sqlite[3]


def test_unchanged_etag_rescan_notifies_nothing(acme, tmp_path, httpserver):
    """`sprawlscan scan github:acme --db ... --notify-webhook`: the first scan posts the three
    credentials; the rescan, answered 304 on every list, posts nothing."""
    acme.api.json("/hook", {"ok": True})  # the fake API claims every path of this server
    args = ["scan", "github:acme", "--db", str(tmp_path / "s.db"), "--format", "json",
            "--github-url", acme.api.base, "--cache-dir", str(acme.cache),
            "--notify-webhook", httpserver.url_for("/hook")]

    def hooks() -> list[dict]:
        return [json.loads(r.get_data()) for r, _ in httpserver.log
                if r.path == "/hook" and r.method == "POST"]

    assert CliRunner().invoke(main, args).exit_code == 1
    assert sorted(h["secret_sha256"] for h in hooks()) == sorted(
        fingerprint(v) for v in acme.s.values())
    mark = len(acme.api.answers)
    assert CliRunner().invoke(main, args).exit_code == 1
    assert len(hooks()) == 3
    assert {st for _, st in acme.list_answers(mark)} == {304}


def test_etags_are_kept_per_allowlist(acme, tmp_path):
    """What a 304 carries over depends on the allowlist (an allowlisted credential is not
    recorded): a scan with another allowlist asks without the first scan's ETags (200s), and a
    later scan with the first allowlist again still finds the credential the other one hid."""
    db = tmp_path / "s.db"
    hidden = fingerprint(acme.s["comment"])
    with Store(db) as store:
        scan_and_record(["github:acme"], acme.options(), store)
        mark = len(acme.api.answers)
        _, other = scan_and_record(["github:acme"],
                                   replace(acme.options(), allowlist=frozenset({hidden})), store)
        assert hidden not in locs(other)
        assert {st for _, st in acme.list_answers(mark)} == {200}
        mark = len(acme.api.answers)
        _, again = scan_and_record(["github:acme"], acme.options(), store)
    assert {st for _, st in acme.list_answers(mark)} == {304}
    assert set(locs(again)) == {fingerprint(v) for v in acme.s.values()}


def test_secret_names_follow_their_lists(acme, tmp_path):
    """A secret name added to a repository changes its list (200, the new name recorded); a
    repository with an environment has that environment's secret names crawled every time (an
    environment list is only carried over when empty), so a name added there is found too."""
    db = tmp_path / "s.db"
    base = "/repos/acme/tools"
    acme.api.json(f"{base}/environments", {"total_count": 1, "environments": [
        {"id": 1, "name": "prod", "url": acme.api.url(f"{base}/environments/prod"),
         "html_url": f"{WEB}/acme/tools/deployments/prod"}]})
    acme.api.json(f"{base}/environments/prod/secrets", {"total_count": 0, "secrets": []})
    with Store(db) as store:
        scan_and_record(["github:acme"], acme.options(), store)
        acme.api.json(f"{base}/actions/secrets", {"total_count": 1, "secrets": [{"name": "HF_TOKEN"}]})
        acme.api.json(f"{base}/environments/prod/secrets",
                      {"total_count": 1, "secrets": [{"name": "DEPLOY_KEY"}]})
        mark = len(acme.api.answers)
        _, second = scan_and_record(["github:acme"], acme.options(), store)
    answers = acme.list_answers(mark)
    assert (f"{base}/actions/secrets", 200) in answers and (f"{base}/environments", 200) in answers
    assert ("/repos/acme/agent/actions/secrets", 304) in answers
    assert {("actions-secret", "acme/tools", "HF_TOKEN"), ("actions-secret", "acme/tools", "DEPLOY_KEY"),
            ("actions-secret", "acme/agent", "OPENAI_API_KEY")} <= names(second)
