"""GitLab source: the real python-gitlab against a real HTTP server on 127.0.0.1 serving GitLab's
v4 JSON; clone URLs are bare repositories made with git, served over smart HTTP by the same
server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from fake_api import FakeAPI, paths
from tokens import anthropic, github, huggingface, openai_project

from scanner.errors import ConfigError
from scanner.model import ScanStats, fingerprint
from scanner.pipeline import SOURCES, ScanOptions, run_scan
from scanner.sources.gitlab_group import GitLabGroupSource

TOKEN = "glpat-notarealtokenforthetests"
WEB = "https://gitlab.example"
API = "/api/v4"


def project_json(pid: int, path: str, clone_url: str) -> dict:
    return {"id": pid, "path_with_namespace": path, "name": path.rsplit("/", 1)[1],
            "http_url_to_repo": clone_url, "web_url": f"{WEB}/{path}", "default_branch": "main",
            "wiki_enabled": False}


def serve_project(api: FakeAPI, pid: int, path: str, issues=(), notes=None, mrs=(), mr_notes=None,
                  snippets=(), variables=(), schedules=None) -> None:
    base = f"/projects/{pid}"
    api.json(f"{base}/issues", [{"id": 1000 + iid, "iid": iid, "project_id": pid, "title": t,
                                 "description": d, "web_url": f"{WEB}/{path}/-/issues/{iid}"}
                                for iid, t, d in issues])
    for iid, _, _ in issues:
        api.json(f"{base}/issues/{iid}/notes", [{"id": nid, "body": b, "system": False}
                                                for nid, b in (notes or {}).get(iid, [])])
    api.json(f"{base}/merge_requests", [{"id": 2000 + iid, "iid": iid, "project_id": pid,
                                         "title": t, "description": d,
                                         "web_url": f"{WEB}/{path}/-/merge_requests/{iid}"}
                                        for iid, t, d in mrs])
    for iid, _, _ in mrs:
        api.json(f"{base}/merge_requests/{iid}/notes", [{"id": nid, "body": b} for nid, b in
                                                        (mr_notes or {}).get(iid, [])])
    api.json(f"{base}/snippets", [{"id": sid, "title": "s", "file_name": fn,
                                   "web_url": f"{WEB}/{path}/-/snippets/{sid}"}
                                  for sid, fn, _ in snippets])
    for sid, _, content in snippets:
        api.json(f"{base}/snippets/{sid}/raw", content)
    api.json(f"{base}/variables", [{"key": k, "value": v, "variable_type": "env_var",
                                    "protected": False, "masked": True, "environment_scope": e}
                                   for k, v, e in variables])
    api.json(f"{base}/pipeline_schedules", [{"id": sid, "description": "nightly"}
                                            for sid in (schedules or {})])
    for sid, vs in (schedules or {}).items():
        api.json(f"{base}/pipeline_schedules/{sid}", {"id": sid, "description": "nightly",
                 "variables": [{"key": k, "value": v, "variable_type": "env_var"} for k, v in vs]})


@pytest.fixture
def group(httpserver, make_repo, bare_clone, rng, tmp_path):
    """acme with subgroup platform: two projects over two pages; one secret copied into history,
    an issue note and a CI variable; more secrets in each other kind of place."""
    api = FakeAPI(httpserver, prefix=API)
    s = {"dup": openai_project(rng), "mr": github(rng), "mr_note": anthropic(rng),
         "snippet": huggingface(rng), "group_var": openai_project(rng), "sched": huggingface(rng),
         "declared": "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(32)),
         "issue": github(rng, "ghs"), "wiki": anthropic(rng)}
    agent = make_repo("agent", origin="https://gitlab.example/acme/agent.git")
    agent.write("app.py", f"KEY = '{s['dup']}'\n")
    agent.write(".gitlab-ci.yml", "deploy:\n  script: ./deploy --token $DEPLOY_TOKEN\n")
    agent.commit("add")
    agent.write("app.py", "import os\nKEY = os.environ['OPENAI_API_KEY']\n")
    agent.commit("env")
    wiki = make_repo("agent-wiki", origin="https://gitlab.example/acme/agent.wiki.git")
    wiki.write("home.md", f"claude key: {s['wiki']}\n")
    wiki.commit("wiki")
    bare_clone(wiki, name="agent.wiki")
    deployer = make_repo("deployer", origin="https://gitlab.example/acme/platform/deployer.git")
    deployer.write("README.md", "deployer\n")
    deployer.commit("init")
    api.json("/groups/acme", {"id": 1, "name": "acme", "path": "acme", "full_path": "acme",
                              "web_url": f"{WEB}/groups/acme"})
    api.json("/groups/1/descendant_groups", [{"id": 2, "name": "platform", "path": "platform",
                                              "full_path": "acme/platform",
                                              "web_url": f"{WEB}/groups/acme/platform"}])
    api.json("/groups/1/variables", [{"key": "SHARED_OPENAI_KEY", "value": s["group_var"],
                                      "variable_type": "env_var", "environment_scope": "*"}])
    api.json("/groups/2/variables", [])
    api.pages("/groups/1/projects", [[{**project_json(10, "acme/agent", bare_clone(agent)),
                                      "wiki_enabled": True}],
                                     [project_json(11, "acme/platform/deployer", bare_clone(deployer))]])
    serve_project(api, 10, "acme/agent",
                  issues=[(3, "leak", f"see {s['issue']}")],
                  notes={3: [(17, f"paste: {s['dup']}")]},
                  mrs=[(5, "deploy", f"uses {s['mr']}")],
                  mr_notes={5: [(20, f"review: {s['mr_note']}")]},
                  snippets=[(7, "run.sh", f"export HF={s['snippet']}\n")],
                  variables=[("OPENAI_API_KEY", s["dup"], "production"),
                             ("DEPLOY_TOKEN", s["declared"], "*"),
                             ("LOG_LEVEL", "debugdebugdebug", "*")],
                  schedules={4: [("HF_TOKEN", s["sched"])]})
    serve_project(api, 11, "acme/platform/deployer")
    return api, s, tmp_path / "cache"


def scan(api: FakeAPI, cache, monkeypatch, target: str = "acme", workers: int | None = None,
         **extra: str):
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    opts = ScanOptions(workers=workers,
                       extra={"gitlab_url": api.base, "cache_dir": str(cache), **extra})
    return run_scan([f"gitlab:{target}"], opts)


def by_fp(result) -> dict:
    return {c.fingerprint: c for c in result.credentials}


def test_same_secret_in_history_issue_note_and_variable_is_one_credential(group, monkeypatch):
    """One value in a project's git history, an issue note and a CI variable: one credential with
    exactly those three locations."""
    api, s, cache = group
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == []
    cred = by_fp(result)[fingerprint(s["dup"])]
    assert [(l.source, l.container, l.path, l.state, l.url) for l in cred.locations] == [
        ("gitlab-issue", "acme/agent", "issues/3#note-17", "live",
         f"{WEB}/acme/agent/-/issues/3#note_17"),
        ("gitlab-variable", "acme/agent", "OPENAI_API_KEY@production", "live",
         f"{WEB}/acme/agent/-/settings/ci_cd"),
        ("git", "acme/agent", "app.py", "historical", None)]
    assert cred.rule_id == "openai.project"


def test_every_place_is_crawled_in_order(group, monkeypatch):
    """One process: the group tree and both project pages are listed first, then group and
    subgroup variables, then per project issues, notes, MRs, MR notes, snippets, variables and
    schedules, in order; each kind of place yields its secret."""
    api, s, cache = group
    result = scan(api, cache, monkeypatch, workers=1)
    found = by_fp(result)
    assert set(found) == {fingerprint(v) for v in s.values()}
    where = {k: sorted((l.source, l.container, l.path) for l in found[fingerprint(v)].locations)
             for k, v in s.items()}
    assert where["mr"] == [("gitlab-mr", "acme/agent", "merge_requests/5")]
    assert where["mr_note"] == [("gitlab-mr", "acme/agent", "merge_requests/5#note-20")]
    assert where["snippet"] == [("gitlab-snippet", "acme/agent", "snippets/7/run.sh")]
    assert where["group_var"] == [("gitlab-variable", "acme", "SHARED_OPENAI_KEY@*")]
    assert where["sched"] == [("gitlab-schedule-variable", "acme/agent", "schedules/4#HF_TOKEN")]
    assert where["issue"] == [("gitlab-issue", "acme/agent", "issues/3")]
    assert where["wiki"] == [("git", "acme/agent.wiki", "home.md")]
    p10 = [f"/projects/10/{x}" for x in (
        "issues", "issues/3/notes", "merge_requests", "merge_requests/5/notes", "snippets",
        "snippets/7/raw", "variables", "pipeline_schedules", "pipeline_schedules/4")]
    p11 = [f"/projects/11/{x}" for x in (
        "issues", "merge_requests", "snippets", "variables", "pipeline_schedules")]
    assert paths(api.log, API) == [
        "/groups/acme", "/groups/1/descendant_groups", "/groups/1/projects",
        "/groups/1/projects?page=2", "/groups/1/variables", "/groups/2/variables", *p10, *p11]
    assert set(api.auth) == {TOKEN}


def test_declared_secret_variable_is_a_credential_without_a_rule(group, monkeypatch):
    """DEPLOY_TOKEN's random value matches no rule but its name declares a secret; LOG_LEVEL's
    value is not reported."""
    api, s, cache = group
    result = scan(api, cache, monkeypatch)
    cred = by_fp(result)[fingerprint(s["declared"])]
    assert (cred.rule_id, cred.provider) == ("declared.secret", "unknown")
    assert [l.path for l in cred.locations] == ["DEPLOY_TOKEN@*"]
    assert fingerprint("debugdebugdebug") not in by_fp(result)


def test_inventory_facts(group, monkeypatch):
    """Variable names at group, project and schedule level and .gitlab-ci.yml are recorded."""
    api, _, cache = group
    src = GitLabGroupSource("acme", url=api.base, cache_dir=cache, token=TOKEN)
    list(src.chunks(ScanStats()))
    assert {f.scope for f in src.inventory_facts if f.kind == "git-repo"} == {"acme/agent", "acme/platform/deployer"}
    facts = {(f.kind, f.scope, f.name, f.level, f.environment) for f in src.inventory_facts
             if f.kind != "git-repo"}
    assert facts == {
        ("ci-variable", "acme", "SHARED_OPENAI_KEY", "group", "*"),
        ("ci-variable", "acme/agent", "OPENAI_API_KEY", "project", "production"),
        ("ci-variable", "acme/agent", "DEPLOY_TOKEN", "project", "*"),
        ("ci-variable", "acme/agent", "LOG_LEVEL", "project", "*"),
        ("ci-variable", "acme/agent", "HF_TOKEN", "schedule", ""),
        ("ci-config", "acme/agent", ".gitlab-ci.yml", "project", "")}
    assert {f.reference() for f in src.inventory_facts if f.kind != "git-repo"} == {
        "acme:SHARED_OPENAI_KEY@*", "acme/agent:OPENAI_API_KEY@production",
        "acme/agent:DEPLOY_TOKEN@*", "acme/agent:LOG_LEVEL@*", "acme/agent:HF_TOKEN",
        "acme/agent:.gitlab-ci.yml"}
    [ci] = [f for f in src.inventory_facts if f.kind == "ci-config"]
    assert "$DEPLOY_TOKEN" in ci.content


def test_pages_named_at_the_external_url_are_all_read(group, monkeypatch, rng):
    """An instance whose `Link` headers name its external URL (https://gitlab.example) while we
    reach it at 127.0.0.1: both pages of projects and both pages of a project's issues are read
    from the configured host (a secret only on the second page of issues is found), nothing is
    sent to the external host, and the scan is complete."""
    api, s, cache = group
    status, first, _ = api.routes[(f"{API}/groups/1/projects", "1")]
    second = api.routes[(f"{API}/groups/1/projects", "2")][1]
    api.pages("/groups/1/projects", [first, second], link_base=WEB)
    late = github(rng)
    issue = {"id": 1003, "iid": 3, "project_id": 10, "title": "leak", "description": f"see {s['issue']}",
             "web_url": f"{WEB}/acme/agent/-/issues/3"}
    api.pages("/projects/10/issues", [[issue], [{**issue, "id": 1009, "iid": 9, "description": late,
                                                  "web_url": f"{WEB}/acme/agent/-/issues/9"}]],
              link_base=WEB)
    api.json("/projects/10/issues/9/notes", [])
    result = scan(api, cache, monkeypatch, workers=1)
    assert result.stats.errors == []
    assert {"/groups/1/projects?page=2", "/projects/10/issues?page=2"} <= set(paths(api.log, API))
    assert fingerprint(late) in by_fp(result)
    assert fingerprint(s["issue"]) in by_fp(result)
    assert any(p.startswith("/projects/11/") for p in paths(api.log, API))  # second project page


def test_rate_limit_429_then_success(group, monkeypatch):
    """A 429 with Retry-After on the project list is waited out by python-gitlab."""
    api, s, cache = group
    api.fail("/projects/10/variables", 429, {"message": "429 Too Many Requests"},
             {"Retry-After": "1"})
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == []
    assert paths(api.log, API).count("/projects/10/variables") == 2
    assert "gitlab-variable" in {l.source for l in by_fp(result)[fingerprint(s["dup"])].locations}


def test_long_rate_limit_gives_up_on_the_unit(group, monkeypatch):
    """A Retry-After beyond the allowed wait fails that unit at once instead of sleeping."""
    api, _, cache = group
    api.fail("/projects/10/snippets", 429, {"message": "429"}, {"Retry-After": "7200"})
    src = GitLabGroupSource("acme", url=api.base, cache_dir=cache, token=TOKEN, max_wait=5)
    stats = ScanStats()
    list(src.chunks(stats))
    assert stats.errors == ["acme/agent snippets: rate limited for 7200s, more than the 5s allowed"]


def test_failures_part_way_keep_everything_else(group, monkeypatch):
    """A 404 on one issue's notes and a 500 (after bounded retries) on the second project page
    name their units; the scan is incomplete and every other finding is kept."""
    api, _, cache = group
    api.fail("/projects/10/issues/3/notes", 404, {"message": "404 Not found"})
    api.json("/groups/1/projects", {"message": "boom"}, status=500, page="2")
    src = GitLabGroupSource("acme", url=api.base, cache_dir=cache, token=TOKEN, retries=2)
    stats = ScanStats()
    list(src.chunks(stats))
    assert stats.errors == ["acme project list: HTTP 500 (boom)",
                            "acme/agent issue 3 notes: HTTP 404 (404 Not found)"]
    assert paths(api.log, API).count("/groups/1/projects?page=2") == 3
    assert not any(p.startswith("/projects/11") for p in paths(api.log, API))


def test_bad_token_is_one_clear_line(httpserver, tmp_path):
    """A 401 on the first request raises ConfigError naming the group, without the token."""
    api = FakeAPI(httpserver, prefix=API)
    api.json("/groups/acme", {"message": "401 Unauthorized"}, status=401)
    src = GitLabGroupSource("acme", url=api.base, cache_dir=tmp_path, token=TOKEN)
    with pytest.raises(ConfigError) as exc:
        list(src.chunks(ScanStats()))
    assert str(exc.value) == "GitLab rejected the token for acme: 401"


def test_cli_exit_codes_and_no_token_in_output(group):
    """CLI: exit 1 with findings; a failed unit exits 3 with one line; a 401 exits 2."""
    api, s, cache = group
    env = {**os.environ, "GITLAB_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "scanner", "scan", "--format", "json", "--gitlab-url", api.base,
           "--cache-dir", str(cache), "gitlab:acme"]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert p.returncode == 1, p.stderr
    assert {f["secret_sha256"] for f in json.loads(p.stdout)["findings"]} == \
        {fingerprint(v) for v in s.values()}
    api.fail("/projects/10/merge_requests", 404, {"message": "404 Not found"})
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert p.returncode == 3
    assert p.stderr.splitlines() == ["sprawlscan: incomplete: acme/agent merge requests: HTTP 404 (404 Not found)"]
    api.fail("/groups/acme", 401, {"message": "401 Unauthorized"})
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    assert (p.returncode, p.stderr) == (2, "sprawlscan: GitLab rejected the token for acme: 401\n")
    for out in (p.stdout, p.stderr):
        assert TOKEN not in out


def test_one_secret_across_github_and_gitlab(group, httpserver, make_repo, bare_clone, monkeypatch):
    """The same key committed to a GitHub repo, pasted in a GitHub issue comment, and present in
    GitLab history, an issue note and a CI variable is one credential with all five locations."""
    gl_api, s, cache = group
    gh = FakeAPI(httpserver)  # GitHub's API on the same server, outside /api/v4
    repo = make_repo("gh-agent", origin="https://github.example/acme/gh-agent.git")
    repo.write("config.py", f"KEY = '{s['dup']}'\n")
    repo.commit("add")
    gh.json("/users/acme", {"login": "acme", "type": "Organization", "url": gh.url("/users/acme")})
    gh.json("/orgs/acme", {"login": "acme", "url": gh.url("/orgs/acme")})
    gh.json("/orgs/acme/repos", [{"id": 99, "has_issues": True, "has_wiki": False, "name": "gh-agent", "full_name": "acme/gh-agent",
                                  "clone_url": bare_clone(repo), "html_url": "https://github.example/acme/gh-agent",
                                  "url": gh.url("/repos/acme/gh-agent")}])
    base = "/repos/acme/gh-agent"
    gh.json(f"{base}/issues", [])
    gh.json(f"{base}/issues/comments", [{
        "id": 8, "body": f"works with {s['dup']}", "html_url": "https://github.example/acme/gh-agent/issues/1#issuecomment-8",
        "issue_url": gh.url(f"{base}/issues/1"), "url": gh.url(f"{base}/issues/comments/8")}])
    gh.json(f"{base}/pulls/comments", [])
    gh.json(f"{base}/actions/secrets", {"total_count": 0, "secrets": []})
    gh.json(f"{base}/environments", {"total_count": 0, "environments": []})
    gh.json("/orgs/acme/actions/secrets", {"total_count": 0, "secrets": []})
    gh.json("/orgs/acme/members", [])
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_alsonotarealtokenforthetests000000")
    result = run_scan(["github:acme", "gitlab:acme"], ScanOptions(extra={
        "github_url": gh.base, "gitlab_url": gl_api.base, "cache_dir": str(cache)}))
    assert result.stats.errors == []
    cred = by_fp(result)[fingerprint(s["dup"])]
    assert sorted((l.source, l.container, l.path) for l in cred.locations) == [
        ("git", "acme/agent", "app.py"), ("git", "acme/gh-agent", "config.py"),
        ("github-issue", "acme/gh-agent", "issues/1#comment-8"),
        ("gitlab-issue", "acme/agent", "issues/3#note-17"),
        ("gitlab-variable", "acme/agent", "OPENAI_API_KEY@production")]


def test_ratelimit_reset_header_is_waited_out(group, monkeypatch):
    """A 429 carrying GitLab's RateLimit-Reset (epoch seconds) is retried after the reset."""
    api, s, cache = group
    api.fail("/projects/10/issues", 429, {"message": "429"},
             {"RateLimit-Reset": str(int(time.time()) + 1), "RateLimit-Remaining": "0"})
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == []
    assert paths(api.log, API).count("/projects/10/issues") == 2
    assert fingerprint(s["issue"]) in by_fp(result)


def test_unreachable_instance_is_one_line(tmp_path):
    """Nothing listening: one ConfigError line after bounded retries, no traceback."""
    src = GitLabGroupSource("acme", url="http://127.0.0.1:9", cache_dir=tmp_path, token=TOKEN,
                            retries=1)
    with pytest.raises(ConfigError) as exc:
        list(src.chunks(ScanStats()))
    assert str(exc.value).startswith("gitlab:acme: cannot reach 127.0.0.1:9 (")


def test_malformed_json_in_a_unit_is_recorded(group, monkeypatch):
    """A unit answering 200 with something that is not GitLab's JSON fails alone."""
    api, s, cache = group
    api.fail("/projects/10/merge_requests", 200, "<html>proxy error</html>")
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == ["acme/agent merge requests: unexpected response "
                                   "(Failed to parse the server message)"]
    assert fingerprint(s["snippet"]) in by_fp(result)


def test_subgroup_target(group, monkeypatch):
    """`gitlab:acme/platform` addresses the subgroup by its URL-encoded full path and crawls only
    its projects."""
    api, _, cache = group
    api.json("/groups/acme/platform", {"id": 2, "full_path": "acme/platform",
                                       "web_url": f"{WEB}/groups/acme/platform"})
    api.json("/groups/2/descendant_groups", [])
    api.json("/groups/2/projects", [project_json(11, "acme/platform/deployer", api.routes[
        (f"{API}/groups/1/projects", "2")][1][0]["http_url_to_repo"])])
    result = scan(api, cache, monkeypatch, target="acme/platform")
    assert result.stats.errors == [] and result.credentials == ()
    assert paths(api.log, API)[:4] == ["/groups/acme/platform", "/groups/2/descendant_groups",
                                       "/groups/2/projects", "/groups/2/variables"]
    assert not any(p.startswith("/projects/10") for p in paths(api.log, API))


def test_registered_in_sources():
    """`gitlab:` resolves to this source through the pipeline's registry."""
    src = SOURCES["gitlab"]("acme/sub", ScanOptions(extra={"gitlab_url": "http://127.0.0.1:9/"}))
    assert isinstance(src, GitLabGroupSource) and (src.group, src.url) == ("acme/sub", "http://127.0.0.1:9")


def test_disabled_features_are_not_requested(group, monkeypatch):
    """A project whose issues and snippets are disabled is not asked for them (counted skips)."""
    api, s, cache = group
    status, page, headers = api.routes[(f"{API}/groups/1/projects", "1")]
    api.routes[(f"{API}/groups/1/projects", "1")] = (
        status, [{**page[0], "issues_access_level": "disabled", "snippets_enabled": False}], headers)
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == [] and result.stats.skipped.get("feature-disabled") == 2
    assert not any(p.startswith(("/projects/10/issues", "/projects/10/snippets"))
                   for p in paths(api.log, API))
    assert fingerprint(s["snippet"]) not in by_fp(result) and fingerprint(s["mr"]) in by_fp(result)


def test_wiki_never_written_is_a_counted_skip(group, monkeypatch):
    """A project with the wiki feature on but no wiki repository: `wiki-unavailable`, no error."""
    api, _, cache = group
    status, page, headers = api.routes[(f"{API}/groups/1/projects", "2")]
    api.routes[(f"{API}/groups/1/projects", "2")] = (status, [{**page[0], "wiki_enabled": True}],
                                                     headers)
    result = scan(api, cache, monkeypatch)
    assert result.stats.errors == [] and result.stats.skipped.get("wiki-unavailable") == 1
