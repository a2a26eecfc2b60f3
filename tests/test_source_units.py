"""Units of the API sources (`scanner.units`): a GitLab group (one unit per group for its
variables, one per project), Confluence (one per space), vault exports (one per mount) and Jira
(one per project, one for the rest), the APIs served by a real HTTP server on 127.0.0.1 speaking
their JSON to the real client library (python-gitlab, atlassian-python-api, hvac in
test_vault_live), scanned whole (the source as one unit, as before it was split), unit by unit
in this process, on a local pool of two and on a real Dask cluster (a scheduler and two worker
processes on loopback): the same findings, records and stats; a unit that fails names itself
and the scan is incomplete (exit 3), the other units' findings kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_api import FakeAPI
from pytest_httpserver import HTTPServer
from test_gitlab_group import API, WEB, project_json, serve_project
from test_units import Cluster
from tokens import anthropic, github, huggingface, openai_project
from werkzeug import Request, Response

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.base import Unit
from scanner.sources.gitlab_group import GitLabGroupSource

COORDINATOR = "glpat-coordinatortokenforthetests"
WORKERS = "glpat-workerstokenforthetests0000"
WIKI_COORDINATOR = "wiki-coordinator-token-for-tests"
WIKI_WORKERS = "wiki-workers-token-for-the-tests"
JIRA_TOKEN = "jira-token-for-the-tests"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Two Dask workers whose GITLAB_TOKEN differs from the coordinator's (so the API log says
    who crawled what)."""
    c = Cluster(tmp_path_factory.mktemp("dask"), {"GITLAB_TOKEN": WORKERS,
                                                   "CONFLUENCE_TOKEN": WIKI_WORKERS,
                                                   "JIRA_TOKEN": JIRA_TOKEN})
    yield c
    c.stop()


@pytest.fixture
def threaded():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def gl(threaded, tmp_path, make_repo, rng):
    """acme with subgroup ops: three projects over two pages, each with a key in its history,
    one in an issue and a declared CI variable; a group variable in each group."""
    from conftest import GitHTTP

    git_http = GitHTTP(threaded, tmp_path / "served")
    (tmp_path / "served").mkdir()
    api = FakeAPI(threaded, prefix=API)
    secrets: list[str] = []
    api.json("/groups/acme", {"id": 1, "name": "acme", "path": "acme", "full_path": "acme",
                              "web_url": f"{WEB}/groups/acme"})
    api.json("/groups/1/descendant_groups", [{"id": 2, "name": "ops", "path": "ops",
                                              "full_path": "acme/ops",
                                              "web_url": f"{WEB}/groups/acme/ops"}])
    for gid in (1, 2):
        value = anthropic(rng)
        secrets.append(value)
        api.json(f"/groups/{gid}/variables", [{"key": "SHARED_KEY", "value": value,
                                               "variable_type": "env_var",
                                               "environment_scope": "*"}])
    listing = []
    for i, path in enumerate(["acme/p1", "acme/ops/p2", "acme/p3"]):
        name = path.rsplit("/", 1)[1]
        repo = make_repo(name, origin=f"{WEB}/{path}.git")
        key, issue_key, declared = openai_project(rng), github(rng), huggingface(rng)
        secrets += [key, issue_key, declared]
        repo.write("app.py", f"KEY = '{key}'\n")
        repo.write(".gitlab-ci.yml", "deploy:\n  script: ./deploy --token $DEPLOY_TOKEN\n")
        repo.commit("add")
        repo.write("app.py", "import os\nKEY = os.environ['KEY']\n")
        repo.commit("env")
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.path),
                        str(git_http.root / f"{name}.git")], check=True, capture_output=True)
        listing.append(project_json(20 + i, path, git_http.url(name)))
        serve_project(api, 20 + i, path, issues=[(1, "leak", f"see {issue_key}")],
                      notes={1: []}, variables=[("DEPLOY_TOKEN", declared, "*")])
    api.pages("/groups/1/projects", [listing[:2], listing[2:]])
    return api, secrets, tmp_path / "cache"


def gl_options(api: FakeAPI, cache: Path, **kw: Any) -> ScanOptions:
    return ScanOptions(extra={"gitlab_url": api.base, "cache_dir": str(cache)}, **kw)


def whole(monkeypatch: pytest.MonkeyPatch, cls: type, targets: list[str], options: ScanOptions):
    """The scan as it was before sources were split: each source one unit, crawled serially in
    this process (`chunks()` / `scan()`), never through `scan_unit`."""
    import scanner.units

    def one(source: Any, target: str, stats: ScanStats, remote: bool) -> list[Unit]:
        assert isinstance(source, cls)
        return [Unit(target, "", source.name, repos=None)]

    with monkeypatch.context() as m:
        m.setattr(scanner.units, "list_units", one)
        m.setattr(cls, "scan_unit", None)  # a unit with a key would fail here
        return run_scan(targets, options)


def same(a, b) -> None:
    assert a.credentials == b.credentials
    assert a.stats == b.stats
    assert a.facts == b.facts


def cli(args: list[str], token: str = COORDINATOR, cwd: Path | None = None,
        **env: str) -> tuple[int, dict, str]:
    full = {**os.environ, "GITLAB_TOKEN": token, "CONFLUENCE_TOKEN": WIKI_COORDINATOR, **env}
    for var in ("SPRAWLSCAN_WORKERS", "CONFLUENCE_USER", "JIRA_USER", "JIRA_TOKEN"):
        full.pop(var, None)
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", *args],
                       capture_output=True, text=True, env=full, timeout=300, cwd=cwd)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else {}, p.stderr


def test_gitlab_group_units_find_what_the_whole_scan_finds(gl, monkeypatch):
    """Two group units and three project units (named by path, each naming its repository and
    wiki for the blob cache); scanned one by one and on a pool of two they give the credentials
    (every location), stats and records of the whole-source scan."""
    api, secrets, cache = gl
    monkeypatch.setenv("GITLAB_TOKEN", COORDINATOR)
    units = GitLabGroupSource("acme", url=api.base, cache_dir=cache).units(ScanStats())
    assert [(u.key, u.name, u.repos) for u in units] == [
        ("group 1/2", "gitlab:acme group acme", ()),
        ("group 2/2", "gitlab:acme group acme/ops", ()),
        ("project 1/3", "acme/p1", ("acme/p1", "acme/p1.wiki")),
        ("project 2/3", "acme/ops/p2", ("acme/ops/p2", "acme/ops/p2.wiki")),
        ("project 3/3", "acme/p3", ("acme/p3", "acme/p3.wiki"))]
    before = whole(monkeypatch, GitLabGroupSource, ["gitlab:acme"], gl_options(api, cache, workers=1))
    assert {c.fingerprint for c in before.credentials} == {fingerprint(s) for s in secrets}
    assert before.stats.errors == []
    assert {f.kind for f in before.facts} >= {"ci-variable", "ci-config", "git-repo"}
    same(run_scan(["gitlab:acme"], gl_options(api, cache, workers=1)), before)
    same(run_scan(["gitlab:acme"], gl_options(api, cache, workers=2)), before)


def test_gitlab_units_on_a_dask_cluster_equal_the_local_scan(gl, cluster):
    """`--scheduler`: the same JSON report as `--workers 1`; the projects were crawled by the
    workers (their token reached the project endpoints), the listing by the coordinator."""
    api, secrets, cache = gl
    base = ["--gitlab-url", api.base, "--cache-dir", str(cache)]
    local = cli([*base, "--workers", "1", "gitlab:acme"])
    assert local[0] == 1, local[2]
    assert {f["secret_sha256"] for f in local[1]["findings"]} == {fingerprint(s) for s in secrets}
    api.log.clear()
    api.auth.clear()
    assert cli([*base, "--scheduler", cluster.address, "gitlab:acme"]) == local
    asked = list(zip(api.log, api.auth))
    assert {a for p, a in asked if p.startswith(f"{API}/projects/")} == {WORKERS}
    assert {a for p, a in asked if p.startswith(f"{API}/groups/1/projects")} == {COORDINATOR}


def test_gitlab_project_failing_for_good_is_incomplete_naming_it(gl, cluster):
    """The server answers 500 to every request for acme/ops/p2's issues: exit 3 with one line
    naming that project, on a local pool and on the cluster alike; every other project's
    findings (and p2's history and variables) are still reported."""
    api, secrets, cache = gl
    api.json("/projects/21/issues", {"message": "500 Internal Server Error"}, status=500)
    base = ["--gitlab-url", api.base, "--cache-dir", str(cache)]
    runs = [cli([*base, *extra, "gitlab:acme"])
            for extra in (["--workers", "2"], ["--scheduler", cluster.address])]
    assert runs[0] == runs[1]
    code, doc, err = runs[0]
    assert code == 3
    assert doc["incomplete"] is True
    assert err.splitlines() == ["sprawlscan: incomplete: acme/ops/p2 issues: HTTP 500 "
                                "(500 Internal Server Error)"]
    found = {f["secret_sha256"] for f in doc["findings"]}
    # secrets: 2 group variables, then (history, issue, variable) per project
    p2_issue = secrets[2 + 3 + 1]
    assert found == {fingerprint(s) for s in secrets} - {fingerprint(p2_issue)}


# -- Confluence: one unit per space ----------------------------------------------------------

@pytest.fixture
def wiki(threaded, rng, monkeypatch):
    """Spaces A, B and C listed by the site, a page in each (A's at version 2, its first version
    holding another key) with a comment in B; `fail` names spaces whose content answers 500."""
    for var in ("CONFLUENCE_USER", "JIRA_USER", "JIRA_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONFLUENCE_TOKEN", WIKI_COORDINATOR)
    base = threaded.url_for("").rstrip("/")
    keys = {s: openai_project(rng) for s in ("A", "B", "C")}
    keys |= {"A-old": github(rng), "B-comment": huggingface(rng)}
    fail: set[str] = set()
    asked: list[tuple[str, str, str]] = []

    def page(space: str, version: int, key: str) -> dict:
        pid = f"{ord(space)}"
        return {"id": pid, "type": "page", "title": f"runbook {space}", "space": {"key": space},
                "version": {"number": version},
                "body": {"storage": {"value": f"<p>key <code>{key}</code></p>"}},
                "_links": {"webui": f"/spaces/{space}/pages/{pid}"}}

    def handle(request: Request) -> Response:
        path, args = request.path, request.args
        asked.append((path, args.get("spaceKey", ""), request.headers.get("Authorization", "")))
        body: Any = {"results": [], "_links": {}}
        if path == "/rest/api/space" and "space list" in fail:
            return Response("no", status=401)
        if path == "/rest/api/space":
            body = {"results": [{"key": s} for s in ("A", "B", "C")], "_links": {}}
        if path == "/rest/api/content":
            space = args["spaceKey"]
            if space in fail:
                return Response('{"message": "boom"}', status=500, content_type="application/json")
            if args["type"] == "page":
                body = {"results": [page(space, 2 if space == "A" else 1, keys[space])],
                        "_links": {"base": base}}
        elif path == f"/rest/api/content/{ord('A')}" and args.get("version") == "1":
            old = page("A", 1, keys["A-old"])
            body = {k: v for k, v in old.items() if k not in ("space", "_links")}
        elif path == f"/rest/api/content/{ord('B')}/child/comment":
            body = {"results": [{"id": "900", "type": "comment", "version": {"number": 1},
                                 "body": {"storage": {"value": f"<p>{keys['B-comment']}</p>"}}}]}
        return Response(json.dumps(body), content_type="application/json")

    threaded.expect_request(re.compile("/rest/api/.*")).respond_with_handler(handle)
    return base, keys, fail, asked


def test_confluence_spaces_are_units_finding_what_the_whole_scan_finds(wiki, monkeypatch):
    """Three listed spaces are three units; one by one and on a pool of two they find every
    page, older version and comment of the whole-source scan, with the same stats."""
    from scanner.sources.confluence_pages import ConfluenceSource

    base, keys, _, _ = wiki
    units = ConfluenceSource(base).units(ScanStats())
    assert [(u.key, u.name, u.data) for u in units] == [
        (f"space {i}/3", f"confluence:{base} space {s}", s) for i, s in enumerate("ABC", 1)]
    before = whole(monkeypatch, ConfluenceSource, [f"confluence:{base}"], ScanOptions(workers=1))
    assert {c.fingerprint for c in before.credentials} == {fingerprint(k) for k in keys.values()}
    assert before.stats.errors == []
    same(run_scan([f"confluence:{base}"], ScanOptions(workers=1)), before)
    same(run_scan([f"confluence:{base}"], ScanOptions(workers=2)), before)


def test_confluence_spaces_on_a_dask_cluster_and_a_space_failing_for_good(wiki, cluster):
    """`--scheduler` gives the report of `--workers 1`, the spaces crawled by the workers (their
    token) and the space list by the coordinator; then with every request for space B's pages
    (and blog posts) answered 500, exit 3 with lines naming space B, on the cluster as on a
    local pool, and
    A's and C's findings still reported."""
    base, keys, fail, asked = wiki
    local = cli(["--workers", "1", f"confluence:{base}"])
    assert local[0] == 1, local[2]
    asked.clear()
    assert cli(["--scheduler", cluster.address, f"confluence:{base}"]) == local
    assert {a for p, s, a in asked if s} == {f"Bearer {WIKI_WORKERS}"}
    assert {a for p, s, a in asked if p == "/rest/api/space"} == {f"Bearer {WIKI_COORDINATOR}"}
    fail.add("B")
    runs = [cli([*extra, f"confluence:{base}"])
            for extra in (["--workers", "2"], ["--scheduler", cluster.address])]
    assert runs[0] == runs[1]
    code, doc, err = runs[0]
    assert code == 3 and doc["incomplete"] is True
    assert err.splitlines() == [f"sprawlscan: incomplete: Confluence: {kind}s of space B "
                                "(start=0): HTTP 500" for kind in ("page", "blogpost")]
    assert {f["secret_sha256"] for f in doc["findings"]} == {
        fingerprint(keys[k]) for k in ("A", "A-old", "C")}


# -- vault exports: one unit per mount ---------------------------------------------------------

def test_vault_export_mounts_are_units_here_on_a_pool_and_on_the_cluster(tmp_path, rng,
                                                                         monkeypatch, cluster):
    """An export whose entries interleave mounts `secret` and `kv`, an AWS region and a broken
    entry under `ops`: one unit per mount (named by mount, carrying no value), in order of first
    appearance; whole, unit by unit, on a pool of two and (the target a relative path, which the
    workers read absolute) on the cluster, the same credentials, stats and error naming the
    broken entry."""
    from scanner.sources.vault_export import VaultExportSource

    keys = [openai_project(rng), github(rng), anthropic(rng), huggingface(rng)]
    doc = [{"path": "secret/agents/a", "data": {"data": {"OPENAI_API_KEY": keys[0]},
                                                 "metadata": {"version": 2}}},
           {"path": "kv/ci/b", "data": {"GH_TOKEN": keys[1]}},
           {"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:bot-AbCdEf",
            "Name": "bot", "SecretString": json.dumps({"ANTHROPIC_API_KEY": keys[2]}),
            "VersionStages": ["AWSCURRENT"]},
           {"path": "ops/broken", "data": "not an object"},
           {"path": "secret/data/agents/d", "data": {"data": {"HF_TOKEN": keys[3]},
                                                      "metadata": {"version": 1}}}]
    f = tmp_path / "export.json"
    f.write_text(json.dumps(doc))
    target = f"vault-export:{f}"
    units = VaultExportSource(f).units(ScanStats())
    assert [(u.key, u.name, u.data) for u in units] == [
        ("mount 1/4", f"{f} mount secret", ("vault", "secret")),
        ("mount 2/4", f"{f} mount kv", ("vault", "kv")),
        ("mount 3/4", f"{f} region eu-west-1", ("aws-secrets-manager", "eu-west-1")),
        ("mount 4/4", f"{f} mount ops", ("vault", "ops"))]
    assert not any(k in repr(units) for k in keys)
    before = whole(monkeypatch, VaultExportSource, [target], ScanOptions(workers=1))
    assert {c.fingerprint for c in before.credentials} == {fingerprint(k) for k in keys}
    assert before.stats.errors == [f"vault export {f}: ops/broken: no `data` object"]
    same(run_scan([target], ScanOptions(workers=1)), before)
    same(run_scan([target], ScanOptions(workers=2)), before)
    local = cli(["--workers", "1", "vault-export:export.json"], cwd=tmp_path)
    assert local[0] == 3 and len(local[1]["findings"]) == 4, local[2]
    assert local[2] == "sprawlscan: incomplete: vault export export.json: ops/broken: no `data` object\n"
    assert cli(["--scheduler", cluster.address, "vault-export:export.json"], cwd=tmp_path) == local


def test_a_source_whose_listing_fails_keeps_its_error(wiki, monkeypatch):
    """Confluence refusing the space list (401) and a Vault server that does not answer list no
    units at all: the scan still carries each listing's one error line and is incomplete (a
    source with no units must not pass as a clean, complete scan)."""
    import socket

    base, _, fail, _ = wiki
    fail.add("space list")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("VAULT_TOKEN", "x")
    result = run_scan([f"confluence:{base}", f"vault:http://127.0.0.1:{port}"],
                      ScanOptions(workers=2))
    assert result.incomplete
    assert result.stats.errors == [f"Confluence rejected the credentials: 401 ({base})",
                                   "Vault: list mounts: ConnectionError"]


# -- Jira: one unit per project (default JQL) ---------------------------------------------------

@pytest.fixture
def tickets(threaded, rng, monkeypatch):
    """Projects ENG and OPS listed by the site, and LEGACY's issue that the listing leaves out
    (an archived project); the search answers the default JQL and the JQL of each unit;
    `fail` names projects whose search answers 500."""
    from scanner.sources.jira_tickets import DEFAULT_JQL

    monkeypatch.delenv("JIRA_USER", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", JIRA_TOKEN)
    base = threaded.url_for("").rstrip("/")
    keys = {p: openai_project(rng) for p in ("ENG", "OPS", "LEGACY")}
    fail: set[str] = set()
    issues = [{"id": str(10000 + i), "key": f"{p}-{i}", "self": f"{base}/rest/api/2/issue/{p}-{i}",
               "fields": {"project": {"key": p}, "summary": f"ticket {p}",
                          "description": f"key {keys[p]}"}}
              for i, p in enumerate(("ENG", "LEGACY", "OPS"), 1)]
    rest = 'project is not EMPTY AND project not in ("ENG", "OPS") ORDER BY key ASC'

    def search(request: Request) -> Response:
        jql = request.args["jql"]
        chosen = {DEFAULT_JQL: {"ENG", "OPS", "LEGACY"}, rest: {"LEGACY"},
                  'project = "ENG" ORDER BY key ASC': {"ENG"},
                  'project = "OPS" ORDER BY key ASC': {"OPS"}}.get(jql)
        if chosen is None:
            return Response('{"errorMessages": ["bad JQL"]}', status=400,
                            content_type="application/json")
        if chosen & fail:
            return Response('{"errorMessages": ["boom"]}', status=500,
                            content_type="application/json")
        found = [i for i in issues if i["fields"]["project"]["key"] in chosen]
        return Response(json.dumps({"startAt": 0, "maxResults": 50, "total": len(found),
                                    "issues": found}), content_type="application/json")

    threaded.expect_request("/rest/api/2/search").respond_with_handler(search)
    threaded.expect_request("/rest/api/2/project").respond_with_json(
        [{"key": "ENG", "name": "Engineering"}, {"key": "OPS", "name": "Operations"}])
    return base, keys, fail


def test_jira_projects_are_units_and_the_rest_is_one_more(tickets, monkeypatch):
    """With the default JQL: one unit per listed project and one for the issues outside them
    (LEGACY's, which the project list leaves out, is still found); whole, unit by unit and on a
    pool of two give the same credentials and stats. A chosen --jql stays one unit."""
    from scanner.sources.jira_tickets import JiraSource

    base, keys, _ = tickets
    units = JiraSource(base).units(ScanStats())
    assert [(u.key, u.name) for u in units] == [
        ("project 1/2", f"jira:{base} project ENG"), ("project 2/2", f"jira:{base} project OPS"),
        ("unlisted", f"jira:{base} issues outside the listed projects")]
    assert [u.key for u in JiraSource(base, "project = ENG").units(ScanStats())] == [""]
    before = whole(monkeypatch, JiraSource, [f"jira:{base}"], ScanOptions(workers=1))
    assert {c.fingerprint for c in before.credentials} == {fingerprint(k) for k in keys.values()}
    assert before.stats.errors == []
    same(run_scan([f"jira:{base}"], ScanOptions(workers=1)), before)
    same(run_scan([f"jira:{base}"], ScanOptions(workers=2)), before)


def test_jira_project_failing_for_good_names_it(tickets, cluster):
    """Every search of project OPS answers 500: exit 3 with one line naming OPS, on a local
    pool and on the cluster alike, and ENG's and LEGACY's findings still reported."""
    base, keys, fail = tickets
    fail.add("OPS")
    runs = [cli([*extra, f"jira:{base}"], JIRA_TOKEN=JIRA_TOKEN)
            for extra in (["--workers", "2"], ["--scheduler", cluster.address])]
    assert runs[0] == runs[1]
    code, doc, err = runs[0]
    assert code == 3 and doc["incomplete"] is True
    assert err.splitlines() == ["sprawlscan: incomplete: Jira: project OPS search page startAt=0: "
                                "HTTP 500"]
    assert {f["secret_sha256"] for f in doc["findings"]} == {
        fingerprint(keys["ENG"]), fingerprint(keys["LEGACY"])}
