"""Units and where they run (`scanner.units`): a folder of real git repositories and a GitHub org
served by a real HTTP server on 127.0.0.1 (PyGithub's JSON, clones over git's smart HTTP),
scanned in this process, on a local process pool and on a real Dask cluster (a `dask scheduler`
and two `dask worker` processes on loopback), with findings, stats and graphs compared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import GitHTTP
from fake_api import FakeAPI
from pytest_httpserver import HTTPServer
from tokens import github, huggingface, openai_project
from werkzeug import Request, Response

from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, run_scan, scan_and_record
from scanner.store import Store
from scanner.units import UnitCache, worker_target

WORKER_TOKENS = {"w1": "ghp_workeronetokenjustfortests000000000", "w2": "ghp_workertwotokenjustfortests000000000"}
COORDINATOR_TOKEN = "ghp_coordinatortokenjustfortests0000000"
WEB = "https://github.example"


class Cluster:
    """A Dask scheduler and two workers (`--nthreads 1`, no nanny: a killed worker stays dead),
    each a separate process on 127.0.0.1, every worker with its own GITHUB_TOKEN."""

    def __init__(self, root: Path, scheduler_env: dict[str, str] | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "scheduler.json"
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
               **(scheduler_env or {})}
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(self.file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        try:
            deadline = time.monotonic() + 60
            while not self.file.exists() or not self.file.read_text().strip():
                assert time.monotonic() < deadline, "the scheduler did not start"
                time.sleep(0.1)
            self.address = json.loads(self.file.read_text())["address"]
            self.root, self.env = root, env
            for name, token in WORKER_TOKENS.items():
                self.add_worker(name, token)
        except BaseException:
            self.stop()
            raise

    def add_worker(self, name: str, token: str) -> None:
        """Start one more worker and wait until the scheduler counts it."""
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(self.file), "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--host", "127.0.0.1", "--name", name, "--local-directory", str(self.root / name)],
            env={**self.env, "GITHUB_TOKEN": token}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(len(self.workers), timeout=60)

    def kill(self, name: str) -> None:
        self.workers[name].send_signal(signal.SIGKILL)
        self.workers[name].wait()

    def kill_scheduler(self) -> None:
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait()

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers.values(), self.scheduler]:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = Cluster(tmp_path_factory.mktemp("dask"))
    yield c
    c.stop()


class HeldAPI(FakeAPI):
    """FakeAPI whose `held` path, while `hold` is set, answers its first request only when the
    test releases it, and tells the test which token (so which worker) asked."""

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.held = ""
        self.hold = False
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.asker = ""
        self.pairs: list[tuple[str, str]] = []
        """(path, Authorization) of every request."""

    def handle(self, request: Request) -> Response:
        self.pairs.append((request.path, request.headers.get("Authorization", "")))
        if self.hold and request.path == self.held and not self.arrived.is_set():
            self.asker = request.headers.get("Authorization", "")
            self.arrived.set()
            self.release.wait(60)
        return super().handle(request)


@pytest.fixture
def world(tmp_path: Path, make_repo, rng):
    """acme (three repositories with history, issues, secrets and a member's gist) on a threaded
    127.0.0.1 server, plus a folder of three git repositories and a plain file."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    git_http = GitHTTP(server, tmp_path / "served")
    (tmp_path / "served").mkdir()
    api = HeldAPI(server)
    secrets: list[str] = []
    api.json("/users/acme", {"login": "acme", "id": 1, "type": "Organization",
                             "url": api.url("/users/acme")})
    api.json("/orgs/acme", {"login": "acme", "id": 1, "url": api.url("/orgs/acme")})
    listing = []
    for i, name in enumerate(["r1", "r2", "r3"]):
        repo = make_repo(name)
        key = openai_project(rng)
        secrets.append(key)
        repo.write("app.py", f"KEY = '{key}'\n")
        repo.write(".github/workflows/ci.yml", "on: push\njobs:\n  a:\n    steps:\n"
                   "      - run: echo ${{ secrets.DEPLOY_TOKEN }}\n")
        repo.commit("add")
        repo.write("app.py", "import os\nKEY = os.environ['KEY']\n")
        repo.commit("env")
        dest = git_http.root / f"{name}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(dest)], check=True,
                       capture_output=True)
        listing.append({"id": 10 + i, "name": name, "full_name": f"acme/{name}",
                        "owner": {"login": "acme", "type": "Organization"}, "private": False,
                        "html_url": f"{WEB}/acme/{name}", "clone_url": git_http.url(name),
                        "url": api.url(f"/repos/acme/{name}"), "default_branch": "main",
                        "has_issues": True, "has_wiki": False})
        base = f"/repos/acme/{name}"
        issue_key = github(rng)
        secrets.append(issue_key)
        api.json(f"{base}/issues", [{"id": 100 + i, "number": 1, "title": "leak",
                                     "body": f"token {issue_key}", "state": "open",
                                     "html_url": f"{WEB}/acme/{name}/issues/1",
                                     "url": api.url(f"{base}/issues/1")}])
        api.json(f"{base}/issues/comments", [])
        api.json(f"{base}/pulls/comments", [])
        api.json(f"{base}/actions/secrets", {"total_count": 1, "secrets": [{"name": "DEPLOY_TOKEN"}]})
        api.json(f"{base}/environments", {"total_count": 0, "environments": []})
    api.pages("/orgs/acme/repos", [listing[:2], listing[2:]], query="type=all&per_page=100")
    api.json("/orgs/acme/actions/secrets", {"total_count": 1, "secrets": [
        {"name": "SLACK_BOT_TOKEN", "visibility": "all"}]})
    api.json("/orgs/acme/members", [{"login": "alice", "id": 5, "type": "User",
                                     "url": api.url("/users/alice")}])
    gist_key = huggingface(rng)
    secrets.append(gist_key)
    api.json("/users/alice/gists", [{"id": "g1", "url": api.url("/gists/g1"),
                                     "html_url": "https://gist.example/g1",
                                     "files": {"n.md": {"filename": "n.md", "size": 9}}}])
    api.json("/gists/g1", {"id": "g1", "url": api.url("/gists/g1"), "html_url": "https://gist.example/g1",
                           "owner": {"login": "alice"}, "history": [],
                           "files": {"n.md": {"filename": "n.md", "size": 60,
                                              "content": f"HF={gist_key}"}}})
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ["a", "b", "c"]:
        repo = make_repo(f"folder/{name}")
        key = github(rng)
        secrets.append(key)
        repo.write(".env", f"GH_TOKEN={key}\n")
        repo.commit("env")
        repo.write(".env", "GH_TOKEN=\n")
        repo.commit("clean")
    plain = github(rng)
    secrets.append(plain)
    (folder / "notes.txt").write_text(f"old token {plain}\n")
    yield api, folder, tmp_path, secrets
    api.release.set()
    server.clear()
    if server.is_running():
        server.stop()


def cli(world: Any, *args: str, db: Path | None = None) -> subprocess.Popen[str]:
    api, folder, tmp_path, _ = world
    env = {**os.environ, "GITHUB_TOKEN": COORDINATOR_TOKEN}
    env.pop("SPRAWLSCAN_WORKERS", None)
    cmd = [sys.executable, "-m", "scanner", "scan", "--format", "json", "--github-url", api.base,
           "--cache-dir", str(tmp_path / "cache"), *args, "github:acme", str(folder)]
    if db is not None:
        cmd[4:4] = ["--db", str(db)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(p: subprocess.Popen[str]) -> tuple[int, dict, str]:
    out, err = p.communicate(timeout=300)
    return p.returncode, json.loads(out) if out.strip() else {}, err


def test_local_pool_and_cluster_find_what_the_serial_scan_finds(world, cluster, tmp_path):
    """`--workers 1`, `--workers 2` and `--scheduler` give the same JSON report (findings with
    every location, stats, skips) and the same graph; on the cluster the repositories were
    crawled by the workers (their own tokens reached the API), the listing by the coordinator."""
    api, folder, _, secrets = world
    serial = finish(cli(world, "--workers", "1"))
    assert serial[0] == 1, serial[2]
    assert {f["secret_sha256"] for f in serial[1]["findings"]} == {fingerprint(s) for s in secrets}
    assert serial[1]["summary"]["errors"] == []
    assert finish(cli(world, "--workers", "2")) == serial
    api.pairs.clear()
    assert finish(cli(world, "--scheduler", cluster.address)) == serial
    repo_calls = {a for p, a in api.pairs if p.endswith("/issues")}
    assert repo_calls <= {f"token {t}" for t in WORKER_TOKENS.values()} and repo_calls
    assert ("/orgs/acme/repos", f"token {COORDINATOR_TOKEN}") in api.pairs  # the listing
    graphs = []
    for extra in (["--workers", "1"], ["--workers", "2"], ["--scheduler", cluster.address]):
        out = tmp_path / f"graph{len(graphs)}.json"
        p = subprocess.run([sys.executable, "-m", "scanner", "graph", "--format", "json", "-o",
                            str(out), "--github-url", api.base, "--cache-dir",
                            str(tmp_path / "cache"), *extra, "github:acme", str(folder)],
                           capture_output=True, text=True,
                           env={**os.environ, "GITHUB_TOKEN": COORDINATOR_TOKEN}, timeout=300)
        assert p.returncode == 0, p.stderr
        graphs.append(json.loads(out.read_text()))
    assert graphs[0] == graphs[1] == graphs[2]
    assert any(n.get("kind") == "workflow" for n in graphs[0]["nodes"])


def test_worker_killed_mid_task_is_retried_and_the_scan_completes(world, cluster):
    """A worker SIGKILLed while its task waits on the API: Dask runs the task again on the other
    worker and the report equals the serial one."""
    api, *_ = world
    serial = finish(cli(world, "--workers", "1"))
    api.held, api.hold = "/repos/acme/r2/issues", True
    p = cli(world, "--scheduler", cluster.address)
    assert api.arrived.wait(120), "the task never reached the API"
    victim = next(n for n, t in WORKER_TOKENS.items() if api.asker == f"token {t}")
    cluster.kill(victim)
    api.release.set()
    assert finish(p) == serial
    survivor = next(n for n in WORKER_TOKENS if n != victim)
    assert cluster.workers[survivor].poll() is None


def test_task_lost_for_good_is_incomplete_naming_the_unit(world, tmp_path):
    """With Dask allowed no failure, the task whose worker dies is lost: exit 3, the report is
    written and marked incomplete, and one line names the repository."""
    api, *_ = world
    c = Cluster(tmp_path / "strict", {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    try:
        api.held, api.hold = "/repos/acme/r2/issues", True
        p = cli(world, "--scheduler", c.address)
        assert api.arrived.wait(120), "the task never reached the API"
        c.kill(next(n for n, t in WORKER_TOKENS.items() if api.asker == f"token {t}"))
        api.release.set()
        code, doc, err = finish(p)
    finally:
        c.stop()
    assert code == 3
    assert doc["incomplete"] is True
    assert "sprawlscan: incomplete: acme/r2: task lost on the cluster, not scanned (KilledWorker)" \
        in err.splitlines()


def test_scheduler_killed_mid_scan_is_incomplete_and_never_recorded_complete(world, tmp_path):
    """The scheduler SIGKILLed while a task waits on the API (workers alive): the scan ends
    within a bounded time, exit 3 with one line naming the lost scheduler, the report marked
    incomplete, and the datastore holds the scan as incomplete (so no credential is marked gone
    and a later scan is compared with the last complete one, not this)."""
    api, *_ = world
    c = Cluster(tmp_path / "doomed")
    db = tmp_path / "s.db"
    try:
        api.held, api.hold = "/repos/acme/r2/issues", True
        p = cli(world, "--scheduler", c.address, db=db)
        assert api.arrived.wait(120), "the task never reached the API"
        c.kill_scheduler()
        start = time.monotonic()
        api.release.set()
        code, doc, err = finish(p)
        took = time.monotonic() - start
    finally:
        c.stop()
    assert code == 3, err
    assert took < 90
    assert doc["incomplete"] is True
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sprawlscan: incomplete: the Dask scheduler at "
                                                   f"{c.address} went away mid-scan"), err
    assert "Traceback" not in err
    with Store(db) as store:
        assert store.conn.execute("SELECT COUNT(*) FROM scans WHERE complete = 1").fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 1


def test_incremental_rescan_on_the_cluster_equals_the_local_one(world, cluster, tmp_path):
    """Scan then rescan into a datastore, locally and on the cluster: the same findings and the
    same stats both times, the rescan reading no blob again (workers never open the datastore:
    the coordinator hands them what it knows)."""
    api, folder, _, _ = world
    runs = {}
    for label, extra in (("local", ["--workers", "1"]), ("dask", ["--scheduler", cluster.address])):
        db = tmp_path / f"{label}.db"
        first = finish(cli(world, *extra, db=db))
        second = finish(cli(world, *extra, db=db))
        assert first[0] == second[0] == 1, first[2] + second[2]
        assert second[1]["summary"]["skipped"].get("already-scanned", 0) > 0
        assert second[1]["summary"]["blobs"] == 0
        runs[label] = (first, second)
    assert runs["local"] == runs["dask"]
    with Store(tmp_path / "dask.db") as store:
        dask_blobs = store.conn.execute("SELECT COUNT(*) FROM scanned_blobs").fetchone()[0]
    with Store(tmp_path / "local.db") as store:
        assert store.conn.execute("SELECT COUNT(*) FROM scanned_blobs").fetchone()[0] == dask_blobs


def test_tasks_carry_no_rules_and_a_worker_joining_later_gets_them(world, tmp_path, monkeypatch):
    """On the cluster a task names the rules by digest only (each pickles to a few KiB with no
    `Rule` in it: ~200 KiB of rules per task made the scheduler keep ~200 KiB per task); the
    rules reach workers once, as a plugin, also a worker that joins after the first scan: with
    the first two killed, the second scan runs wholly on it and finds the same credentials."""
    import pickle

    from scanner.units import ClusterSubmit

    api, folder, tmp, secrets = world
    monkeypatch.setenv("GITHUB_TOKEN", COORDINATOR_TOKEN)
    sizes: list[int] = []
    real = ClusterSubmit.__call__

    def submit(self: ClusterSubmit, task: Any) -> Any:
        blob = pickle.dumps(task)
        assert b"detectors.rule" not in blob
        sizes.append(len(blob))
        return real(self, task)

    monkeypatch.setattr(ClusterSubmit, "__call__", submit)
    c = Cluster(tmp_path / "joining")
    try:
        opts = ScanOptions(scheduler=c.address, extra={"github_url": api.base,
                                                       "cache_dir": str(tmp / "cache")})
        first = run_scan(["github:acme", str(folder)], opts)
        assert {cred.fingerprint for cred in first.credentials} == {fingerprint(s) for s in secrets}
        assert len(sizes) >= 6 and max(sizes) < 16 * 1024, sizes
        late = "ghp_workerthreetokenjustfortests0000000"
        c.add_worker("w3", late)
        for name in WORKER_TOKENS:
            c.kill(name)
        api.pairs.clear()
        second = run_scan(["github:acme", str(folder)], opts)
    finally:
        c.stop()
    assert second.stats.errors == first.stats.errors == []
    assert [cred.fingerprint for cred in second.credentials] == \
        [cred.fingerprint for cred in first.credentials]
    assert {a for p, a in api.pairs if p.endswith("/issues")} == {f"token {late}"}


def test_bad_or_unreachable_scheduler_is_one_line_exit_2(world):
    """A malformed address and a port nobody listens on: one line each, exit 2, no hang."""
    code, _, err = finish(cli(world, "--scheduler", "localhost:8786"))
    assert (code, err) == (2, "sprawlscan: --scheduler 'localhost:8786': expected tcp://HOST:PORT\n")
    start = time.monotonic()
    code, _, err = finish(cli(world, "--scheduler", "tcp://127.0.0.1:9"))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("sprawlscan: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    assert time.monotonic() - start < 60


def test_folder_units_in_process_equal_the_serial_folder_scan(world):
    """A folder splits into its plain files and one unit per repository; on a local pool of two
    the result (credentials, stats, order of errors) equals the one-process scan."""
    _, folder, _, _ = world
    one = run_scan([str(folder)], ScanOptions(workers=1))
    two = run_scan([str(folder)], ScanOptions(workers=2))
    assert one.credentials == two.credentials and one.stats == two.stats
    assert len(one.credentials) == 4


def test_unit_cache_gives_known_blobs_and_records_new_ones():
    """The task's blob cache answers from its slices only and remembers what it read."""
    from scanner.model import KnownMatch
    from scanner.sources.base import RepoSlice

    km = KnownMatch("f" * 64, "r", "p", "abc…", 1)
    cache = UnitCache({"acme/x": RepoSlice({"b1": [km], "b2": []}, ("state", {"b1": {"a": None}}, 0))})
    assert cache.warm("acme/x") and not cache.warm("acme/y")
    assert cache.known("acme/x", "b2") and not cache.known("acme/x", "b3")
    assert cache.matches("acme/x", "b1") == [km]
    assert cache.attribution("acme/x", "state") == ({"b1": {"a": None}}, 0)
    assert cache.attribution("acme/x", "moved") is None
    cache.record("acme/x", "b3", [])
    assert cache.recorded == [("acme/x", "b3", [])]


def test_relative_paths_reach_workers_absolute(tmp_path, monkeypatch):
    """Workers run elsewhere: a relative path target is made absolute, schemes are kept."""
    monkeypatch.chdir(tmp_path)
    assert worker_target("repo") == str(tmp_path / "repo")
    assert worker_target("git:repo") == f"git:{tmp_path / 'repo'}"
    assert worker_target("github:acme") == "github:acme"


def _blob_ids(repo: Path) -> set[str]:
    out = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-all-objects",
                          "--batch-check=%(objecttype) %(objectname)"], capture_output=True,
                         text=True, check=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.startswith("blob ")}


@pytest.mark.parametrize("workers", [1, 2])
def test_each_unit_is_recorded_once_as_it_completes(world, tmp_path, workers, monkeypatch):
    """Every repository's blobs land in the datastore as its unit completes (exactly the blobs of
    its clone, none lost), each repository's records once; the coordinator keeps no repository's
    blob ids after its unit, and the rescan reads no blob again and stores no second copy of the
    records."""
    from scanner.store.db import StoreBlobCache

    api, folder, tmp, _ = world
    monkeypatch.setenv("GITHUB_TOKEN", COORDINATOR_TOKEN)
    opts = ScanOptions(workers=workers, extra={"github_url": api.base, "cache_dir": str(tmp / "cache")})
    kept: list[int] = []
    real = Store.save_blobs

    def save_blobs(self: Store, scan_id: int, cache: StoreBlobCache) -> None:
        real(self, scan_id, cache)
        kept.append(len(cache._known) + len(cache._matches))

    monkeypatch.setattr(Store, "save_blobs", save_blobs)
    with Store(tmp_path / "s.db") as store:
        sid, first = scan_and_record(["github:acme"], opts, store)
        per_repo = dict(store.conn.execute(
            "SELECT repo, COUNT(*) FROM scanned_blobs WHERE scan_id = ? GROUP BY repo", (sid,)))
        clones = {f"acme/{n}": _blob_ids(next((tmp / "cache").rglob(f"{n}.git")))
                  for n in ("r1", "r2", "r3")}
        assert per_repo == {repo: len(ids) for repo, ids in clones.items()}
        assert [f.scope for f in first.facts if f.kind == "git-repo"] == ["acme/r1", "acme/r2", "acme/r3"]
        assert store.result(sid).facts == first.facts
        sid2, second = scan_and_record(["github:acme"], opts, store)
        assert kept and set(kept) == {0}
        assert second.stats.blobs == 0
        assert second.stats.skipped["already-scanned"] == sum(map(len, clones.values()))
        assert store.result(sid2).facts == first.facts == second.facts
        assert store.conn.execute("SELECT COUNT(*) FROM fact_sets").fetchone()[0] == 1
