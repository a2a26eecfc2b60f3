"""Units of the API sources (`scanner.units`): a GitLab group (one unit per group for its
variables, one per project), Confluence (one per space) and vault exports (one per mount), each
served by a real HTTP server on 127.0.0.1 speaking the API's JSON to the real client library
(python-gitlab, atlassian-python-api), scanned whole (the source as one unit, as before it was
split), unit by unit in this process, on a local pool of two and on a real Dask cluster (a
scheduler and two worker processes on loopback): the same findings, records and stats; a unit
that fails names itself and the scan is incomplete (exit 3), the other units' findings kept."""

from __future__ import annotations

import json
import os
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

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.gitlab_group import GitLabGroupSource

COORDINATOR = "glpat-coordinatortokenforthetests"
WORKERS = "glpat-workerstokenforthetests0000"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Two Dask workers whose GITLAB_TOKEN differs from the coordinator's (so the API log says
    who crawled what)."""
    c = Cluster(tmp_path_factory.mktemp("dask"), {"GITLAB_TOKEN": WORKERS})
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
    """The scan as it was before sources were split: the source is one unit, crawled serially."""
    with monkeypatch.context() as m:
        m.delattr(cls, "units")
        return run_scan(targets, options)


def same(a, b) -> None:
    assert a.credentials == b.credentials
    assert a.stats == b.stats
    assert a.facts == b.facts


def cli(args: list[str], token: str = COORDINATOR, **env: str) -> tuple[int, dict, str]:
    full = {**os.environ, "GITLAB_TOKEN": token, **env}
    full.pop("SPRAWLSCAN_WORKERS", None)
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", *args],
                       capture_output=True, text=True, env=full, timeout=300)
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
