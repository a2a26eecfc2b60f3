"""GitHub source: the real PyGithub against a real HTTP server on 127.0.0.1 serving GitHub's JSON;
clone URLs are bare repositories made with git, served over smart HTTP by the same server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from fake_api import FakeAPI
from tokens import github, huggingface, openai_project

from scanner.errors import ConfigError
from scanner.findings import Findings
from scanner.model import InventoryFact, ScanStats, fingerprint
from scanner.pipeline import SOURCES, ScanOptions, load_engine, run_scan
from scanner.sources.github_org import GitHubOrgSource

TOKEN = "ghp_notarealtokenjustfortests0000000000"
WEB = "https://github.example"


def repo_json(api: FakeAPI, name: str, clone_url: str) -> dict:
    return {"id": hash(name) & 0xFFFF, "name": name, "full_name": f"acme/{name}",
            "owner": {"login": "acme", "type": "Organization"}, "private": False,
            "html_url": f"{WEB}/acme/{name}", "clone_url": clone_url,
            "url": api.url(f"/repos/acme/{name}"), "default_branch": "main", "has_issues": True,
            "has_wiki": False}


def serve_repo(api: FakeAPI, name: str, issues=(), comments=(), review_comments=(),
               secrets=(), envs=()) -> None:
    base = f"/repos/acme/{name}"
    api.json(f"{base}/issues", list(issues))
    api.json(f"{base}/issues/comments", list(comments))
    api.json(f"{base}/pulls/comments", list(review_comments))
    api.json(f"{base}/actions/secrets", {"total_count": len(secrets),
                                         "secrets": [{"name": s} for s in secrets]})
    api.json(f"{base}/environments", {"total_count": len(envs), "environments": [
        {"id": i, "name": e, "url": api.url(f"{base}/environments/{e}"),
         "html_url": f"{WEB}/acme/{name}/deployments/{e}"} for i, e in enumerate(envs)]})
    for e, names in envs.items() if isinstance(envs, dict) else ():
        api.json(f"{base}/environments/{e}/secrets",
                 {"total_count": len(names), "secrets": [{"name": n} for n in names]})


@pytest.fixture
def org(httpserver, make_repo, bare_clone, rng, tmp_path):
    """acme: two repos over two pages, an issue + a PR with comments and a review comment,
    secrets at three levels, one member with a gist of two revisions."""
    api = FakeAPI(httpserver)
    s = {"hist": openai_project(rng), "issue": github(rng), "comment": github(rng, "ghs"),
         "review": openai_project(rng), "gist_old": github(rng, "gho"), "pr": github(rng, "ghu"),
         "wiki": huggingface(rng), "hunk": github(rng)}
    agent = make_repo("agent")
    agent.write("agent.py", f"KEY = '{s['hist']}'\n")
    agent.write(".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    steps:\n"
                "      - run: echo ${{ secrets.OPENAI_API_KEY }}\n")
    agent.commit("add")
    agent.write("agent.py", "import os\nKEY = os.environ['OPENAI_API_KEY']\n")
    agent.commit("use env")
    wiki = make_repo("agent-wiki", origin="https://github.example/acme/agent.wiki.git")
    wiki.write("Setup.md", f"# Setup\nexport HF_TOKEN={s['wiki']}\n")
    wiki.commit("wiki")
    bare_clone(wiki, name="agent.wiki")
    tools = make_repo("tools")
    tools.write("README.md", "tools\n")
    tools.commit("init")
    api.json("/users/acme", {"login": "acme", "id": 1, "type": "Organization",
                             "url": api.url("/users/acme")})
    api.json("/orgs/acme", {"login": "acme", "id": 1, "url": api.url("/orgs/acme")})
    api.pages("/orgs/acme/repos", [[{**repo_json(api, "agent", bare_clone(agent)), "has_wiki": True}],
                                   [repo_json(api, "tools", bare_clone(tools))]],
              query="type=all&per_page=100")
    serve_repo(api, "agent",
               issues=[{"id": 11, "number": 3, "title": "broken", "body": f"token {s['issue']}",
                        "html_url": f"{WEB}/acme/agent/issues/3", "state": "open",
                        "url": api.url("/repos/acme/agent/issues/3")},
                       {"id": 12, "number": 4, "title": "pr", "body": f"uses {s['pr']}",
                        "html_url": f"{WEB}/acme/agent/pull/4", "state": "closed",
                        "url": api.url("/repos/acme/agent/issues/4"),
                        "pull_request": {"url": api.url("/repos/acme/agent/pulls/4")}}],
               comments=[{"id": 345, "body": f"try this:\n{s['comment']}\n",
                          "html_url": f"{WEB}/acme/agent/issues/3#issuecomment-345",
                          "issue_url": api.url("/repos/acme/agent/issues/3"),
                          "url": api.url("/repos/acme/agent/issues/comments/345")}],
               review_comments=[{"id": 9, "body": f"do not commit {s['review']}", "path": "app/.env",
                                 "diff_hunk": f"@@ -1,2 +1,3 @@\n LOG=info\n+GH_TOKEN={s['hunk']}\n",
                                 "html_url": f"{WEB}/acme/agent/pull/4#discussion_r9",
                                 "pull_request_url": api.url("/repos/acme/agent/pulls/4"),
                                 "url": api.url("/repos/acme/agent/pulls/comments/9")}],
               secrets=["OPENAI_API_KEY"], envs={"production": ["DEPLOY_TOKEN"]})
    serve_repo(api, "tools")
    api.json("/orgs/acme/actions/secrets", {"total_count": 1, "secrets": [
        {"name": "SLACK_BOT_TOKEN", "visibility": "all"}]})
    api.json("/orgs/acme/members", [{"login": "alice", "id": 5, "type": "User",
                                     "url": api.url("/users/alice")}])
    gist_url = "https://gist.example/alice/g1"
    api.json("/users/alice/gists", [{"id": "g1", "url": api.url("/gists/g1"), "html_url": gist_url,
                                     "files": {"notes.md": {"filename": "notes.md", "size": 9}}}])
    history = [{"version": "b" * 40, "url": api.url(f"/gists/g1/{'b' * 40}")},
               {"version": "a" * 40, "url": api.url(f"/gists/g1/{'a' * 40}")}]
    api.json("/gists/g1", {"id": "g1", "url": api.url("/gists/g1"), "html_url": gist_url,
                           "owner": {"login": "alice"}, "history": history,
                           "files": {"notes.md": {"filename": "notes.md", "size": 9,
                                                  "content": "clean now"}}})
    api.json(f"/gists/g1/{'a' * 40}", {"id": "g1", "url": api.url(f"/gists/g1/{'a' * 40}"),
                                        "html_url": gist_url, "files": {"notes.md": {
                                            "filename": "notes.md", "size": 50,
                                            "content": f"export GH={s['gist_old']}"}}})
    return api, s, tmp_path / "cache"


def scan(api: FakeAPI, cache, target: str = "acme", **kw) -> tuple[GitHubOrgSource, list, ScanStats]:
    src = GitHubOrgSource(target, api_url=api.base, cache_dir=cache, token=TOKEN, backoff=0.01, **kw)
    stats = ScanStats()
    engine, findings = load_engine(ScanOptions()), Findings()
    for chunk in src.chunks(stats):
        for m in engine.scan(chunk.data):
            findings.add(m, chunk.locations)
    return src, list(findings.credentials()), stats


def by_fp(creds: list) -> dict:
    return {c.fingerprint: c for c in creds}


def test_org_crawl_finds_every_kind_of_place_in_order(org):
    """Repos over two pages, history, issue, PR, comments, review comment and both gist revisions
    are found with precise locations; the requests follow GitHub's pagination in order."""
    api, s, cache = org
    _, creds, stats = scan(api, cache)
    assert stats.errors == []
    found = by_fp(creds)
    assert set(found) == {fingerprint(v) for v in s.values()}

    def locs(key):
        return [(l.source, l.container, l.path, l.state, l.url) for l in found[fingerprint(s[key])].locations]

    [hist] = found[fingerprint(s["hist"])].locations
    assert (hist.source, hist.container, hist.path, hist.state, hist.line) == \
        ("git", "acme/agent", "agent.py", "historical", 1)
    assert locs("issue") == [("github-issue", "acme/agent", "issues/3", "live", f"{WEB}/acme/agent/issues/3")]
    assert locs("pr") == [("github-pr", "acme/agent", "pulls/4", "live", f"{WEB}/acme/agent/pull/4")]
    assert locs("comment") == [("github-issue", "acme/agent", "issues/3#comment-345", "live",
                                f"{WEB}/acme/agent/issues/3#issuecomment-345")]
    assert locs("review") == [("github-review-comment", "acme/agent", "pulls/4#review-comment-9",
                               "live", f"{WEB}/acme/agent/pull/4#discussion_r9")]
    # the diff hunk a review comment quotes is scanned too
    assert locs("hunk") == [("github-review-comment", "acme/agent", "pulls/4#review-comment-9/diff/app/.env",
                             "live", f"{WEB}/acme/agent/pull/4#discussion_r9")]
    assert locs("wiki") == [("git", "acme/agent.wiki", "Setup.md", "live", None)]
    [g] = found[fingerprint(s["gist_old"])].locations
    assert (g.source, g.container, g.path, g.commit, g.state) == \
        ("github-gist", "alice", "gists/g1/notes.md", "a" * 40, "historical")
    assert api.log == [
        "/users/acme", "/orgs/acme", "/orgs/acme/repos", "/orgs/acme/repos?page=2",
        "/repos/acme/agent/issues", "/repos/acme/agent/issues/comments",
        "/repos/acme/agent/pulls/comments", "/repos/acme/agent/actions/secrets",
        "/repos/acme/agent/environments", "/repos/acme/agent/environments/production/secrets",
        "/repos/acme/tools/issues", "/repos/acme/tools/issues/comments",
        "/repos/acme/tools/pulls/comments", "/repos/acme/tools/actions/secrets",
        "/repos/acme/tools/environments",
        "/orgs/acme/actions/secrets", "/orgs/acme/members", "/users/alice/gists", "/gists/g1",
        f"/gists/g1/{'a' * 40}"]
    assert set(api.auth) == {f"token {TOKEN}"}


def test_inventory_facts_name_secrets_and_workflows(org):
    """Secret names at repo, environment and org level and the default branch's workflow files
    are recorded for the graph, never a value."""
    api, _, cache = org
    src, _, _ = scan(api, cache)
    clones = {f.scope: f.name for f in src.inventory_facts if f.kind == "git-repo"}
    assert clones == {n: str(cache / "github" / f"127.0.0.1_{api.server.port}" / "acme" / f"{n[5:]}.git")
                      for n in ("acme/agent", "acme/tools")}  # files at pinned refs are read there
    facts = {(f.kind, f.scope, f.name, f.level, f.environment) for f in src.inventory_facts
             if f.kind != "git-repo"}
    assert facts == {
        ("actions-secret", "acme/agent", "OPENAI_API_KEY", "repo", ""),
        ("actions-secret", "acme/agent", "DEPLOY_TOKEN", "environment", "production"),
        ("actions-secret", "acme", "SLACK_BOT_TOKEN", "org", ""),
        ("workflow", "acme/agent", ".github/workflows/ci.yml", "repo", "")}
    assert {f.reference() for f in src.inventory_facts if f.kind != "git-repo"} == {
        "acme/agent:OPENAI_API_KEY", "acme/agent:DEPLOY_TOKEN@production", "org:acme:SLACK_BOT_TOKEN",
        "acme/agent/.github/workflows/ci.yml"}
    [wf] = [f for f in src.inventory_facts if f.kind == "workflow"]
    assert "secrets.OPENAI_API_KEY" in wf.content
    assert isinstance(wf, InventoryFact)


def test_cache_is_reused_and_fetched(org, make_repo):
    """A second scan fetches into the existing bare mirror instead of cloning again."""
    api, s, cache = org
    scan(api, cache)
    mirror = cache / "github" / api.base.split("://")[1].replace(":", "_") / "acme" / "agent.git"
    assert (mirror / "HEAD").is_file()
    marker = mirror / "sprawlscan-marker"
    marker.write_text("kept")
    _, creds, stats = scan(api, cache)
    assert marker.exists() and stats.errors == []
    assert fingerprint(s["hist"]) in by_fp(creds)


def test_rate_limit_429_then_success(org):
    """A 429 with Retry-After is waited out and retried by PyGithub; nothing is lost."""
    api, s, cache = org
    api.fail("/repos/acme/agent/issues", 429, {"message": "slow down"}, {"Retry-After": "1"})
    _, creds, stats = scan(api, cache)
    assert stats.errors == []
    assert fingerprint(s["issue"]) in by_fp(creds)
    assert api.log.count("/repos/acme/agent/issues") == 2


def test_rate_limit_reset_beyond_max_wait_gives_up_on_that_unit(org):
    """A reset too far away is not slept through: the unit is recorded, the rest kept."""
    api, s, cache = org
    api.fail("/repos/acme/agent/issues/comments", 429, {"message": "API rate limit exceeded"},
             {"Retry-After": "3600"})
    _, creds, stats = scan(api, cache, max_wait=5)
    assert stats.errors == ["acme/agent issue comments: rate limited for 3600s, more than the 5s allowed"]
    assert fingerprint(s["comment"]) not in by_fp(creds)
    assert fingerprint(s["issue"]) in by_fp(creds)


def test_unit_failing_part_way_is_recorded_and_the_rest_kept(org):
    """A 404 on one repo's review comments and a 500 (after retries) on another's issues name
    those units; every other finding is still there."""
    api, s, cache = org
    api.fail("/repos/acme/agent/pulls/comments", 404, {"message": "Not Found"})
    api.fail("/repos/acme/tools/issues", 500, {"message": "boom"}, times=10)
    _, creds, stats = scan(api, cache, retries=2)
    assert stats.errors == ["acme/agent review comments: HTTP 404 (Not Found)",
                            "acme/tools issues: gave up after repeated rate limiting or server errors"]
    assert api.log.count("/repos/acme/tools/issues") == 3
    assert set(by_fp(creds)) == {fingerprint(v) for k, v in s.items() if k not in ("review", "hunk")}


def test_second_page_failing_keeps_the_first(org):
    """The repository list failing on page 2 keeps page 1's repository and names the unit."""
    api, s, cache = org
    api.routes.pop(("/orgs/acme/repos", "2"))
    _, creds, stats = scan(api, cache)
    assert stats.errors == ["github:acme repository list: HTTP 404 (Not Found)"]
    assert fingerprint(s["hist"]) in by_fp(creds)


def test_bad_token_is_one_clear_line(httpserver, tmp_path):
    """A 401 on the first request raises ConfigError naming the org, without the token."""
    api = FakeAPI(httpserver)
    api.json("/users/acme", {"message": "Bad credentials"}, status=401)
    with pytest.raises(ConfigError) as exc:
        scan(api, tmp_path)
    assert str(exc.value) == "GitHub rejected the token for acme: 401"


def test_single_repo_target(org):
    """`github:OWNER/REPO` crawls that repository only: no org secrets, no gists."""
    api, s, cache = org
    api.json("/repos/acme/agent", repo_json(api, "agent", api.routes[("/orgs/acme/repos", "1")][1][0]["clone_url"]))
    _, creds, stats = scan(api, cache, target="acme/agent")
    assert stats.errors == []
    assert fingerprint(s["issue"]) in by_fp(creds) and fingerprint(s["gist_old"]) not in by_fp(creds)
    assert api.log[0] == "/repos/acme/agent" and "/orgs/acme/members" not in api.log


def test_cli_scan_github_exit_codes(org, tmp_path):
    """Through the CLI: findings JSON with exit 1; a failing unit gives exit 3 and one line;
    a bad token exit 2 with the one-line message; the token never appears in any output."""
    api, s, cache = org
    env = {**os.environ, "GITHUB_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "scanner", "scan", "--format", "json", "--github-url", api.base,
           "--cache-dir", str(cache), "github:acme"]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert {f["secret_sha256"] for f in doc["findings"]} == {fingerprint(v) for v in s.values()}
    api.fail("/repos/acme/agent/issues/comments", 404, {"message": "Not Found"})
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert p.returncode == 3
    assert p.stderr.splitlines() == [
        "sprawlscan: incomplete: acme/agent issue comments: HTTP 404 (Not Found)"]
    assert json.loads(p.stdout)["incomplete"] is True
    api.fail("/users/acme", 401, {"message": "Bad credentials"})
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert (p.returncode, p.stderr) == (2, "sprawlscan: GitHub rejected the token for acme: 401\n")
    assert TOKEN not in p.stdout + p.stderr


def test_registered_in_sources():
    """`github:` resolves to this source through the pipeline's registry."""
    src = SOURCES["github"]("acme", ScanOptions(extra={"github_url": "http://127.0.0.1:9"}))
    assert isinstance(src, GitHubOrgSource) and src.api_url == "http://127.0.0.1:9"
    with pytest.raises(ConfigError):
        SOURCES["github"]("a/b/c", ScanOptions())


def test_user_target_with_own_token_reads_private_repos_and_secret_gists(httpserver, make_repo,
                                                                         bare_clone, rng, tmp_path):
    """`github:USER` with that user's token lists /user/repos and /gists (secret gists too)."""
    api = FakeAPI(httpserver)
    key, gist_key = openai_project(rng), github(rng)
    r = make_repo("dotfiles")
    r.write("env.sh", f"export OPENAI_API_KEY={key}\n")
    r.commit("add")
    api.json("/users/bob", {"login": "bob", "id": 7, "type": "User", "url": api.url("/users/bob")})
    api.json("/user", {"login": "bob", "id": 7, "type": "User", "url": api.url("/users/bob")})
    api.json("/user/repos", [{**repo_json(api, "dotfiles", bare_clone(r)), "full_name": "bob/dotfiles",
                              "url": api.url("/repos/bob/dotfiles"), "private": True}])
    base = "/repos/bob/dotfiles"
    for sub in ("issues", "issues/comments", "pulls/comments"):
        api.json(f"{base}/{sub}", [])
    api.json(f"{base}/actions/secrets", {"total_count": 0, "secrets": []})
    api.json(f"{base}/environments", {"total_count": 0, "environments": []})
    api.json("/gists", [{"id": "s1", "url": api.url("/gists/s1"), "public": False}])
    api.json("/gists/s1", {"id": "s1", "url": api.url("/gists/s1"), "public": False,
                           "html_url": "https://gist.example/bob/s1",
                           "history": [{"version": "c" * 40, "url": api.url(f"/gists/s1/{'c' * 40}")}],
                           "files": {"t.txt": {"filename": "t.txt", "size": 40, "content": gist_key}}})
    _, creds, stats = scan(api, tmp_path / "cache", target="bob")
    assert stats.errors == []
    found = by_fp(creds)
    assert set(found) == {fingerprint(key), fingerprint(gist_key)}
    [g] = found[fingerprint(gist_key)].locations
    assert (g.source, g.container, g.path, g.state, g.commit) == \
        ("github-gist", "bob", "gists/s1/t.txt", "live", "c" * 40)
    assert api.log[:3] == ["/users/bob", "/user", "/user/repos"]
    assert api.log[-2:] == ["/gists", "/gists/s1"]


def test_clone_failure_is_a_unit_error_and_the_api_parts_still_run(org):
    """An unreachable clone URL fails that repository's history only, naming it."""
    api, s, cache = org
    page = api.routes[("/orgs/acme/repos", "1")]
    broken = [{**page[1][0], "clone_url": api.url("/_git/nonexistent.git")}]
    api.routes[("/orgs/acme/repos", "1")] = (page[0], broken, page[2])
    _, creds, stats = scan(api, cache)
    assert len(stats.errors) == 1 and stats.errors[0].startswith("acme/agent clone: git clone failed:")
    assert fingerprint(s["hist"]) not in by_fp(creds) and fingerprint(s["issue"]) in by_fp(creds)


def test_progress_reports_units_done_and_total(org, monkeypatch):
    """The pipeline's progress callback receives repository i/n and gist units; the result
    carries the inventory facts."""
    api, _, cache = org
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    seen: list[str] = []
    result = run_scan(["github:acme"], ScanOptions(extra={"github_url": api.base,
                                                          "cache_dir": str(cache)}),
                      progress=seen.append)
    assert {(f.kind, f.name if f.kind != "git-repo" else f.scope) for f in result.facts} == {
        ("workflow", ".github/workflows/ci.yml"), ("actions-secret", "OPENAI_API_KEY"),
        ("actions-secret", "DEPLOY_TOKEN"), ("actions-secret", "SLACK_BOT_TOKEN"),
        ("git-repo", "acme/agent"), ("git-repo", "acme/tools")}
    assert seen == ["scanning github:acme", "github:acme: repository 1/2 acme/agent",
                    "github:acme: repository 2/2 acme/tools", "github:acme: gists 1/1 alice"]
    assert not any(TOKEN in m for m in seen)


@pytest.mark.parametrize("status,message", [(403, "API rate limit exceeded for 127.0.0.1."),
                                            (429, "too many requests")])
def test_rate_limit_reset_header_is_waited_out(org, status, message):
    """A primary rate limit (403 or 429, X-RateLimit-Remaining 0) waits until X-RateLimit-Reset
    and retries; nothing is lost."""
    api, s, cache = org
    reset = str(int(time.time()) + 1)
    api.fail("/repos/acme/agent/pulls/comments", status, {"message": message},
             {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    start = time.monotonic()
    _, creds, stats = scan(api, cache)
    assert stats.errors == []
    assert fingerprint(s["review"]) in by_fp(creds)
    assert api.log.count("/repos/acme/agent/pulls/comments") == 2
    assert time.monotonic() - start < 10


def test_unreachable_api_is_one_line(tmp_path):
    """Nothing listening: one ConfigError line after bounded retries, no traceback."""
    src = GitHubOrgSource("acme", api_url="http://127.0.0.1:9", cache_dir=tmp_path, token=TOKEN,
                          backoff=0.01, retries=1)
    with pytest.raises(ConfigError) as exc:
        list(src.chunks(ScanStats()))
    assert str(exc.value).startswith("github:acme: cannot reach 127.0.0.1:9 (")


def test_malformed_json_in_a_unit_is_recorded(org):
    """A unit answering 200 with something that is not GitHub's JSON fails alone."""
    api, s, cache = org
    api.fail("/repos/acme/agent/issues", 200, "<html>proxy error</html>")
    _, creds, stats = scan(api, cache)
    assert len(stats.errors) == 1
    assert stats.errors[0].startswith("acme/agent issues: unexpected response (")
    assert fingerprint(s["comment"]) in by_fp(creds)


def test_forbidden_secret_names_are_a_counted_skip(org):
    """Without admin rights the secret-name listings answer 403: counted, not incomplete."""
    api, s, cache = org
    api.fail("/repos/acme/tools/actions/secrets", 403,
             {"message": "Resource not accessible by integration"})
    api.fail("/orgs/acme/actions/secrets", 403, {"message": "Must have admin rights"})
    src, creds, stats = scan(api, cache)
    assert stats.errors == [] and stats.skipped == {"secret-names-forbidden": 2}
    assert {f.name for f in src.inventory_facts if f.kind == "actions-secret"} == \
        {"OPENAI_API_KEY", "DEPLOY_TOKEN"}
    assert set(by_fp(creds)) == {fingerprint(v) for v in s.values()}


def test_disabled_issues_read_prs_through_pulls_and_410_is_a_skip(org):
    """With issues disabled, PR bodies come from /pulls; a 410 Gone (feature disabled) on the
    comments endpoint is a counted skip, not an incomplete scan."""
    api, s, cache = org
    status, page, headers = api.routes[("/orgs/acme/repos", "1")]
    api.routes[("/orgs/acme/repos", "1")] = (status, [{**page[0], "has_issues": False}], headers)
    api.json("/repos/acme/agent/pulls", [{"id": 40, "number": 4, "title": "pr", "body": f"uses {s['pr']}",
                                          "html_url": f"{WEB}/acme/agent/pull/4", "state": "closed",
                                          "url": api.url("/repos/acme/agent/pulls/4")}])
    api.fail("/repos/acme/agent/issues/comments", 410, {"message": "Issues are disabled for this repo"})
    _, creds, stats = scan(api, cache)
    assert stats.errors == [] and stats.skipped == {"feature-disabled": 1}
    [loc] = by_fp(creds)[fingerprint(s["pr"])].locations
    assert (loc.source, loc.path) == ("github-pr", "pulls/4")
    assert fingerprint(s["issue"]) not in by_fp(creds) and fingerprint(s["comment"]) not in by_fp(creds)
    assert "/repos/acme/agent/pulls" in api.log and "/repos/acme/agent/issues" not in api.log


def test_gh_token_is_accepted_like_github_token(org, monkeypatch):
    """With only GH_TOKEN set (as the gh CLI names it), every API request carries that token."""
    api, s, cache = org
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    src = GitHubOrgSource("acme", api_url=api.base, cache_dir=cache, backoff=0.01)
    stats = ScanStats()
    assert list(src.chunks(stats)) and stats.errors == []
    assert api.auth and all(TOKEN in a for a in api.auth)


def test_units_carry_the_listing_without_url_templates_and_ask_nothing_more(org):
    """A repository unit keeps its listing JSON minus GitHub's `*_url` templates (the bulk of it,
    held per repository by the coordinator); scanned from that unit, the repository makes exactly
    the requests it made with the whole JSON (PyGithub builds them from `url`)."""
    api, s, cache = org
    page = api.routes[("/orgs/acme/repos", "1")]
    templates = {f"{k}_url": api.url(f"/repos/acme/agent/{k}{{/number}}")
                 for k in ("hooks", "issues", "pulls", "comments", "contents", "git_refs", "keys")}
    full = [{**page[1][0], **templates, "owner": {**page[1][0]["owner"],
                                                  "repos_url": api.url("/users/acme/repos")}}]
    api.routes[("/orgs/acme/repos", "1")] = (page[0], full, page[2])
    src = GitHubOrgSource("acme", api_url=api.base, cache_dir=cache, token=TOKEN, backoff=0.01)
    unit = src.units(ScanStats())[0]
    assert unit.data["clone_url"] == full[0]["clone_url"] and unit.data["url"] == full[0]["url"]
    assert not set(unit.data) & set(templates) and "repos_url" not in unit.data["owner"]
    engine = load_engine(ScanOptions())
    api.log.clear()
    lean = list(src.scan_unit(unit, engine, ScanStats()))
    asked = list(api.log)
    api.log.clear()
    whole = list(src.scan_unit(replace(unit, data=full[0]), engine, ScanStats()))
    assert asked == api.log and len(asked) >= 4
    assert {fingerprint(m.secret) for m, _ in lean} == {fingerprint(m.secret) for m, _ in whole} != set()
