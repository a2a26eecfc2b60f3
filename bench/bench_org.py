"""Scale benchmark: a synthetic GitHub organisation of N repositories (default 1,000), made with
`git fast-import` and served on 127.0.0.1 by a GitHub-API test server (the tests' `FakeAPI`: the
documented REST JSON PyGithub reads, paginated with `Link` headers) with git over smart HTTP (the
tests' `GitHTTP`: `git http-backend` as a CGI); then `sprawlscan scan github:acme --db` on it, in
each mode the installed CLI offers, and the same scan again on the same datastore (incremental).
sprawlscan runs from the bench venv (`bench/benchenv.py`: `pip install '.[cluster]'` as the README
says; `--dev` runs this checkout with the current interpreter instead).

    python bench/bench_org.py [--repos 250,1000] [--keep DIR] [--modes inproc,workers2,dask]
                              [--unique-every 5] [--profile] [--pg] [--venv DIR] [--dev]

Reports per mode and org size: repositories/minute, wall seconds of the first scan and of the
rescan, API requests and git HTTP requests each made (and how many of the rescan's were answered
304 Not Modified: the server honours `If-None-Match`), peak RSS (VmHWM) of the coordinator, of every
worker process and of the largest git child, the datastore's size after the scan and after the
rescan (SQLite file and WAL; with `--pg` a PostgreSQL database as well, `pg_database_size`), and the
credentials found; with several sizes (`--repos 250,1000`), per mode the slope between the
smallest and the largest: coordinator KiB and datastore bytes per repository. The
credentials found must be exactly the ones planted (fingerprints and the repositories holding each
copy): any difference fails the run (exit 1). `--profile` adds a cProfile'd in-process scan that
splits the per-repository cost into API requests, clone/fetch, scan and datastore recording.

Planted (repository i of N): a unique OpenAI key kept at HEAD when i % K == 0 and a unique GitHub
PAT added then removed (history only) when i % K == 1 (K = `--unique-every`); one of a few shared
Slack bot tokens in every repository with i % 4 in (2, 3); a Hugging Face token in an issue body
when i % 50 == 3; a workflow referencing `secrets.DEPLOY_TOKEN` (and that Actions secret name)
when i % 3 == 0. Every value is synthetic (fixtures/tokens.py)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "fixtures", ROOT / "tests"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import tokens  # noqa: E402

ORG = "acme"
WEB = "https://github.example"
TOKEN = "bench-not-a-real-token"
PAGE = 100


def repo_name(i: int) -> str:
    return f"svc-{i:05d}"


def fp(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# -- generator ------------------------------------------------------------------------------------

@dataclass
class RepoPlan:
    name: str
    commits: list[dict[str, str | None]] = field(default_factory=list)
    """Each commit: path → new content (None deletes the path)."""
    issues: list[dict[str, Any]] = field(default_factory=list)
    secret_names: list[str] = field(default_factory=list)


def plan_org(n: int, unique_every: int = 5, seed: int = 1) -> tuple[list[RepoPlan], dict[str, list[str]]]:
    """The repositories and, per planted credential's fingerprint, the repositories holding it."""
    rng = random.Random(seed)
    shared = [tokens.slack_bot(rng) for _ in range(max(1, min(12, n // 40)))]
    planted: dict[str, set[str]] = {}
    repos = []
    for i in range(n):
        name = repo_name(i)
        full = f"{ORG}/{name}"
        code = "\n".join(f"def handler_{j}(event):\n    return {{'id': {i * 31 + j}, 'ok': True}}\n"
                         for j in range(rng.randrange(5, 30)))
        first: dict[str, str | None] = {
            "README.md": f"# {name}\n\nService {i} of the {ORG} platform.\n",
            "requirements.txt": "requests==2.32.3\npyyaml==6.0.2\n",
            f"src/{name.replace('-', '_')}.py": f'"""{name}."""\n\n{code}',
        }
        p = RepoPlan(name, [first])
        second: dict[str, str | None] = {"CHANGELOG.md": f"## 1.{i % 7}.0\n- first release\n"}
        if i % unique_every == 0:
            key = tokens.openai_project(rng)
            second["config/settings.py"] = f'OPENAI_API_KEY = "{key}"\nMODEL = "gpt-4o"\n'
            planted.setdefault(fp(key), set()).add(full)
        if i % unique_every == 1:
            pat = tokens.github(rng)
            second["scripts/release.sh"] = f"#!/bin/sh\nexport GITHUB_TOKEN={pat}\ngh release create\n"
            p.commits.append(second)
            second = {"scripts/release.sh": "#!/bin/sh\ngh release create  # token from the runner\n"}
            planted.setdefault(fp(pat), set()).add(full)
        if i % 4 in (2, 3):
            bot = shared[(i // 4) % len(shared)]
            second["deploy/notify.sh"] = f"#!/bin/sh\nexport SLACK_BOT_TOKEN={bot}\n./notify\n"
            planted.setdefault(fp(bot), set()).add(full)
        if i % 3 == 0:
            second[".github/workflows/deploy.yml"] = (
                "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
                "      - run: ./deploy.sh\n        env:\n"
                "          DEPLOY_TOKEN: ${{ secrets.DEPLOY_TOKEN }}\n")
            p.secret_names.append("DEPLOY_TOKEN")
        p.commits.append(second)
        if i % 50 == 3:
            hf = tokens.huggingface(rng)
            p.issues.append({"number": 1, "title": "model download fails",
                             "body": f"I set HF_TOKEN={hf} and it still fails"})
            planted.setdefault(fp(hf), set()).add(full)
        repos.append(p)
    return repos, {k: sorted(v) for k, v in planted.items()}


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n%s\n" % (len(raw), raw)


def fast_import_stream(p: RepoPlan) -> bytes:
    """The commits of one repository as a `git fast-import` stream (fixed dates and identity)."""
    out = []
    for k, files in enumerate(p.commits, 1):
        when = 1735689600 + k * 3600
        out.append(b"commit refs/heads/main\nmark :%d\n" % k)
        out.append(b"committer Dev <dev@acme.test> %d +0000\n" % when)
        out.append(_data(f"change {k} of {p.name}"))
        if k > 1:
            out.append(b"from :%d\n" % (k - 1))
        for path, content in files.items():
            if content is None:
                out.append(f"D {path}\n".encode())
            else:
                out.append(f"M 100644 inline {path}\n".encode() + _data(content))
    return b"".join(out)


def build_repo(served: Path, p: RepoPlan) -> None:
    dest = served / f"{p.name}.git"
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(dest)], check=True, env=env)
    subprocess.run(["git", "-C", str(dest), "fast-import", "--quiet"], input=fast_import_stream(p),
                   check=True, env=env, capture_output=True)


def generate(root: Path, n: int, unique_every: int = 5, seed: int = 1) -> dict[str, list[str]]:
    """Builds (or reuses, when `root` holds the same plan) the org under `root`: bare repositories
    in `served/`, the API's data in `org.json`, the expected credentials in `planted.json`."""
    key = {"repos": n, "unique_every": unique_every, "seed": seed}
    meta = root / "planted.json"
    if meta.is_file():
        doc = json.loads(meta.read_text())
        if doc["key"] == key:
            return dict(doc["planted"])
    repos, planted = plan_org(n, unique_every, seed)
    shutil.rmtree(root / "served", ignore_errors=True)
    (root / "served").mkdir(parents=True)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda p: build_repo(root / "served", p), repos))
    (root / "org.json").write_text(json.dumps(
        [{"name": p.name, "issues": p.issues, "secrets": p.secret_names} for p in repos]))
    meta.write_text(json.dumps({"key": key, "planted": planted}))
    return planted


# -- server ---------------------------------------------------------------------------------------

class OrgServer:
    """The org under `root` on 127.0.0.1: GitHub's REST JSON for what `github:acme` reads, clone
    URLs over smart HTTP, and `/_bench/stats` (API and git request counts since the last call)."""

    def __init__(self, root: Path) -> None:
        from conftest import GitHTTP
        from fake_api import FakeAPI
        from pytest_httpserver import HTTPServer
        from werkzeug import Request, Response

        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.git = GitHTTP(self.server, root / "served")

        self.cpu = cpu_seconds()

        def stats(_: Request) -> Response:
            now = cpu_seconds()
            body = {"api": len(self.api.log), "git": len(self.git.auth),
                    "api_304": sum(1 for _, status in self.api.answers if status == 304),
                    "server_cpu_s": round(now - self.cpu, 2)}
            self.api.answers.clear()
            self.cpu = now
            self.api.log.clear()
            self.api.auth.clear()
            self.git.auth.clear()
            self.server.clear_log()
            return Response(json.dumps(body), content_type="application/json")

        self.server.expect_request("/_bench/stats").respond_with_handler(stats)
        self.api = FakeAPI(self.server)
        self.server.start()
        self.routes(json.loads((root / "org.json").read_text()))

    @property
    def url(self) -> str:
        return self.api.base

    def routes(self, repos: list[dict[str, Any]]) -> None:
        api = self.api
        api.json(f"/users/{ORG}", {"login": ORG, "id": 1, "type": "Organization",
                                   "url": api.url(f"/users/{ORG}")})
        api.json(f"/orgs/{ORG}", {"login": ORG, "id": 1, "url": api.url(f"/orgs/{ORG}")})
        listing = [self.repo_json(i, r["name"]) for i, r in enumerate(repos)]
        api.pages(f"/orgs/{ORG}/repos", [listing[k:k + PAGE] for k in range(0, len(listing), PAGE)],
                  query=f"type=all&per_page={PAGE}")
        for r in repos:
            base = f"/repos/{ORG}/{r['name']}"
            api.json(f"{base}/issues", [
                {"id": 1000 + k, "number": x["number"], "title": x["title"], "body": x["body"],
                 "state": "open", "html_url": f"{WEB}{base.removeprefix('/repos')}/issues/{x['number']}",
                 "url": api.url(f"{base}/issues/{x['number']}")} for k, x in enumerate(r["issues"])])
            api.json(f"{base}/issues/comments", [])
            api.json(f"{base}/pulls/comments", [])
            api.json(f"{base}/actions/secrets", {"total_count": len(r["secrets"]), "secrets": [
                {"name": s, "created_at": "2025-01-01T00:00:00Z",
                 "updated_at": "2025-01-01T00:00:00Z"} for s in r["secrets"]]})
            api.json(f"{base}/environments", {"total_count": 0, "environments": []})
        api.json(f"/orgs/{ORG}/actions/secrets", {"total_count": 1, "secrets": [
            {"name": "SLACK_BOT_TOKEN", "visibility": "all"}]})
        api.json(f"/orgs/{ORG}/members", [])

    def repo_json(self, i: int, name: str) -> dict[str, Any]:
        return {"id": 10_000 + i, "name": name, "full_name": f"{ORG}/{name}", "private": True,
                "owner": {"login": ORG, "type": "Organization"}, "html_url": f"{WEB}/{ORG}/{name}",
                "clone_url": self.git.url(name), "url": self.api.url(f"/repos/{ORG}/{name}"),
                "default_branch": "main", "has_issues": True, "has_wiki": False}

    def stop(self) -> None:
        self.server.stop()


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that ended (git http-backend)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def serve_forever(root: Path) -> None:
    """`--serve ROOT`: the server in its own process (its CPU and memory kept apart); prints the
    URL, then serves until stdin closes."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = OrgServer(root)
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


@contextmanager
def server_process(root: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"bench server did not start (got {url!r})")
        yield url, proc
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=30)


def server_stats(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_bench/stats", timeout=10) as resp:
        return dict(json.load(resp))


# -- measuring ------------------------------------------------------------------------------------

def _hwm_kib(pid: int) -> int:
    """Peak resident set (VmHWM) of a live process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakMemory:
    """Polls the peak RSS of the given process trees (every process and its descendants) until
    stopped; `stop()` gives role → KiB (the coordinator, each worker, the largest git child)."""

    def __init__(self, roots: dict[str, int], every: float = 0.1) -> None:
        import psutil

        self.psutil, self.roots, self.every = psutil, roots, every
        self.peaks: dict[str, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def role(root: str, pid: int) -> str | None:
        """Python children are workers (one row each); other programs (git, git-remote-http...)
        one row per program name, their largest. None when gone."""
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                name = fh.read().strip()
        except OSError:
            return None
        if name.startswith("python") or name in ("sprawlscan", "dask-worker"):
            return f"{root} worker {pid}"
        return f"{name} (largest)"

    def run(self) -> None:
        while not self.done.is_set():
            for root, pid in self.roots.items():
                ages: dict[int, float] = {}
                try:
                    for child in self.psutil.Process(pid).children(recursive=True):
                        ages[child.pid] = time.time() - child.create_time()
                except self.psutil.Error:  # the root is gone, or a child just ended
                    pass
                pids = [pid, *ages]
                for p in pids:
                    before = root if p == pid else self.role(root, p)
                    kib = _hwm_kib(p)
                    after = root if p == pid else self.role(root, p)
                    # a child between fork() and exec() still shows its parent's peak: a reading
                    # counts only when the program did not change around it, and a python child
                    # only once it has lived a second (a worker, not a fork about to exec git)
                    if before is None or before != after or not kib:
                        continue
                    if " worker " in before and ages.get(p, 0.0) < 1.0:
                        continue
                    self.peaks[before] = max(self.peaks.get(before, 0), kib)
            self.done.wait(self.every)

    def stop(self) -> dict[str, int]:
        self.done.set()
        self.thread.join()
        return dict(self.peaks)


def tree_cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each live process (with its ended children)."""
    import psutil

    out = {}
    for role, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[role] = t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return out


@dataclass
class Run:
    seconds: float
    cpu: dict[str, float]
    """CPU seconds by role: `coordinator` (the scan process and its children), the server, and
    each watched process (Dask scheduler and workers)."""
    exit_code: int
    found: dict[str, list[str]]
    peaks: dict[str, int]
    requests: dict[str, Any]
    errors: list[str]


def scan_cmd(url: str, cache: Path, db: Path | str, out: Path, extra: list[str],
             python: str = sys.executable) -> list[str]:
    return [python, "-m", "scanner", "scan", f"github:{ORG}", "--github-url", url,
            "--cache-dir", str(cache), "--db", str(db), "--format", "json", "-o", str(out), *extra]


def scan_once(url: str, work: Path, extra: list[str], env: dict[str, str],
             watch: dict[str, int] | None = None, prefix: list[str] | None = None,
             python: str = sys.executable, db: str | None = None) -> Run:
    """One `sprawlscan scan github:acme` process (`python -m scanner`: the bench venv's
    interpreter runs the installed package, this one the checkout); its peak memory and the
    server's counts. `db`: a datastore URL instead of `work/scan.db`."""
    out = work / "report.json"
    out.unlink(missing_ok=True)
    server_stats(url)  # reset the counters
    cmd = scan_cmd(url, work / "cache", db or work / "scan.db", out, extra, python)
    if prefix:  # e.g. python -m cProfile -o FILE: it runs `-m scanner ...` itself
        cmd = [*prefix, *cmd[1:]]
    full_env = {**os.environ, "GITHUB_TOKEN": TOKEN, **env}
    full_env.pop("SPRAWLSCAN_DB", None)
    import resource

    ru0, cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN), tree_cpu(watch or {})
    t0 = time.perf_counter()
    # the checkout's own interpreter runs it from ROOT; an installed one from the work folder
    # (from ROOT, `-m scanner` would import the checkout instead of what pip installed)
    cwd = ROOT if python == sys.executable else work
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    mem = PeakMemory({"coordinator": proc.pid, **(watch or {})})
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    peaks = mem.stop()
    ru1, cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN), tree_cpu(watch or {})
    cpu = {"coordinator": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime,
           **{k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}}
    found: dict[str, set[str]] = {}
    if out.is_file():
        for f in json.loads(out.read_text())["findings"]:
            found.setdefault(f["secret_sha256"], set()).update(
                loc.get("repo") or loc["container"] for loc in f["locations"])
    errors = [line for line in err.splitlines() if "incomplete" in line or "Error" in line]
    requests = server_stats(url)
    cpu["server"] = requests.pop("server_cpu_s")
    return Run(seconds, {k: round(v, 1) for k, v in cpu.items()}, proc.returncode, {k: sorted(v) for k, v in found.items()}, peaks,
               requests, errors)


def check(run: Run, planted: dict[str, list[str]], label: str, exit_code: int = 1) -> None:
    """Fails the bench loudly unless the scan found exactly what was planted, where it was."""
    problems = []
    if run.exit_code != exit_code:
        problems.append(f"exit code {run.exit_code} (expected {exit_code}: findings, complete)")
    problems += run.errors[:5]
    missing = set(planted) - set(run.found)
    extra = set(run.found) - set(planted)
    if missing:
        problems.append(f"{len(missing)} planted credential(s) not found, e.g. {sorted(missing)[0][:12]}"
                        f" in {planted[sorted(missing)[0]]}")
    if extra:
        problems.append(f"{len(extra)} credential(s) found that were not planted")
    wrong = [k for k in set(planted) & set(run.found) if planted[k] != run.found[k]]
    if wrong:
        problems.append(f"{len(wrong)} credential(s) found in other repositories than planted, e.g. "
                        f"{wrong[0][:12]}: {run.found[wrong[0]][:3]} vs {planted[wrong[0]][:3]}")
    if problems:
        raise SystemExit(f"bench_org: {label}: MISMATCH: " + "; ".join(problems))


# -- modes ----------------------------------------------------------------------------------------

def cli_flags(python: str = sys.executable) -> str:
    return subprocess.run([python, "-m", "scanner", "scan", "--help"],
                          cwd=ROOT if python == sys.executable else tempfile.gettempdir(),
                          capture_output=True, text=True, check=False).stdout


@contextmanager
def dask_cluster(workers: int = 2, python: str = sys.executable) -> Iterator[tuple[str, dict[str, int]]]:
    """A scheduler and `workers` single-threaded worker processes on 127.0.0.1 (no nannies: the
    processes measured are the ones doing the work), run by `python` (the bench venv's: the
    workers import the installed sprawlscan; this interpreter: the checkout)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dev = python == sys.executable
    env = {**os.environ, **({"PYTHONPATH": str(ROOT)} if dev else {}),
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    cwd = ROOT if dev else Path(tempfile.gettempdir())
    procs = [subprocess.Popen([python, "-m", "distributed.cli.dask_scheduler", "--host",
                               "127.0.0.1", "--port", str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(2)
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [python, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], env=env, cwd=cwd,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        watch = {"dask-scheduler": procs[0].pid,
                 **{f"dask-worker-{k}": p.pid for k, p in enumerate(procs[1:], 1)}}
        yield address, watch
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@contextmanager
def mode_setup(mode: str, help_text: str,
               python: str = sys.executable) -> Iterator[tuple[list[str], dict[str, str], dict[str, int]]]:
    """(extra CLI flags, environment, processes to watch) of one mode."""
    if mode == "inproc":
        yield (["--workers", "1"] if "--workers" in help_text else []), {"SPRAWLSCAN_WORKERS": "1"}, {}
    elif mode == "workers2":
        if "--workers" in help_text:
            yield ["--workers", "2"], {}, {}
        else:  # before `--workers`: the engine's process pool over blobs
            yield [], {"SPRAWLSCAN_WORKERS": "2"}, {}
    elif mode == "dask":
        if "--scheduler" not in help_text:
            raise SystemExit("bench_org: this sprawlscan has no --scheduler: cannot run mode dask")
        with dask_cluster(2, python) as (address, watch):
            yield ["--scheduler", address], {}, watch
    else:
        raise SystemExit(f"bench_org: unknown mode {mode!r}")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def sqlite_bytes(work: Path) -> dict[str, int]:
    """The SQLite datastore's file and its WAL (the shared-memory index is not data)."""
    return {part: (work / f"scan.db{suffix}").stat().st_size
            if (work / f"scan.db{suffix}").exists() else 0
            for part, suffix in (("file", ""), ("wal", "-wal"))}


def pg_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


@dataclass
class Bench:
    """What every mode of one run shares."""

    url: str
    n: int
    planted: dict[str, list[str]]
    help_text: str
    python: str = sys.executable
    pg: Any = None
    """A running `tests/pg_server.PgServer` (`--pg`): each mode also scans into a database there."""


def bench_mode(mode: str, b: Bench) -> dict[str, Any]:
    n = b.n
    with tempfile.TemporaryDirectory(prefix=f"orgbench-{mode}-") as tmp, \
            mode_setup(mode, b.help_text, b.python) as (extra, env, watch):
        work = Path(tmp)
        load_before = load()
        first = scan_once(b.url, work, extra, env, watch, python=b.python)
        check(first, b.planted, f"{mode} first scan")
        size = sqlite_bytes(work)
        second = scan_once(b.url, work, extra, env, watch, python=b.python)
        check(second, b.planted, f"{mode} rescan")
        size2 = sqlite_bytes(work)
        pg: dict[str, Any] = {}
        if b.pg is not None:
            db = b.pg.create_database(f"orgbench_{mode}_{n}_{os.getpid()}")
            shutil.rmtree(work / "cache", ignore_errors=True)  # clones again, as the SQLite scan did
            pg_first = scan_once(b.url, work, extra, env, watch, python=b.python, db=db)
            check(pg_first, b.planted, f"{mode} first scan, PostgreSQL")
            pg["pg_bytes"] = pg_bytes(db)
            pg_second = scan_once(b.url, work, extra, env, watch, python=b.python, db=db)
            check(pg_second, b.planted, f"{mode} rescan, PostgreSQL")
            pg |= {"pg_rescan_bytes": pg_bytes(db), "pg_first_s": round(pg_first.seconds, 1),
                   "pg_rescan_s": round(pg_second.seconds, 1),
                   "pg_peak_rss_kib": pg_first.peaks.get("coordinator", 0)}
    row = {"mode": mode, "repos": n, "credentials": len(first.found),
           "first_s": round(first.seconds, 1), "repos_per_min": round(n / first.seconds * 60),
           "rescan_s": round(second.seconds, 1),
           "rescan_repos_per_min": round(n / second.seconds * 60),
           "db_mib": round(sum(size.values()) / 2**20, 1), "db_bytes": size,
           "db_rescan_bytes": size2, "api_requests": first.requests["api"],
           "git_requests": first.requests["git"], "rescan_api_requests": second.requests["api"],
           "rescan_api_304": second.requests.get("api_304", 0),
           "rescan_git_requests": second.requests["git"],
           "peak_rss_mib": {k: int(mib(v)) for k, v in sorted(first.peaks.items())},
           "rescan_peak_rss_mib": {k: int(mib(v)) for k, v in sorted(second.peaks.items())},
           "coordinator_kib": first.peaks.get("coordinator", 0),
           "rescan_coordinator_kib": second.peaks.get("coordinator", 0), **pg,
           "cpu_s": first.cpu, "rescan_cpu_s": second.cpu,
           "load_before": load_before, "load_after": load(), "flags": " ".join(extra),
           "env": " ".join(f"{k}={v}" for k, v in env.items())}
    print(json.dumps(row), flush=True)
    return row


def slopes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mode, between its smallest and its largest org: what one more repository costs the
    coordinator's peak RSS (KiB, first scan and rescan) and the datastore (bytes; the rescan's
    growth is what each further scan adds)."""
    out = []
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["repos"])
        if len(mine) < 2 or mine[0]["repos"] == mine[-1]["repos"]:
            continue
        lo, hi = mine[0], mine[-1]
        d = hi["repos"] - lo["repos"]

        def per(key: str, row_lo: dict[str, Any] = lo, row_hi: dict[str, Any] = hi) -> float:
            return round((row_hi[key] - row_lo[key]) / d, 2)

        row = {"slope": mode, "from_repos": lo["repos"], "to_repos": hi["repos"],
               "coordinator_kib_per_repo": per("coordinator_kib"),
               "rescan_coordinator_kib_per_repo": per("rescan_coordinator_kib"),
               "db_bytes_per_repo": round(sum(hi["db_bytes"].values()) / hi["repos"]),
               "db_rescan_growth_bytes_per_repo": round(
                   (sum(hi["db_rescan_bytes"].values()) - sum(hi["db_bytes"].values())) / hi["repos"]),
               "load": load()}
        if "pg_bytes" in hi:
            row["pg_bytes_per_repo"] = round(hi["pg_bytes"] / hi["repos"])
            row["pg_rescan_growth_bytes_per_repo"] = round(
                (hi["pg_rescan_bytes"] - hi["pg_bytes"]) / hi["repos"])
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def profile_split(url: str, n: int, planted: dict[str, list[str]],
                  python: str = sys.executable) -> dict[str, float]:
    """An in-process scan under cProfile, its time split per repository (ms): `api` (requests'
    `Session.request`: PyGithub's calls, including the local server's answer time), `clone`
    (`mirror`: the git clone/fetch subprocess), `workflows` (`head_files`: reading the default
    branch's workflow files), `history` (`GitHistorySource.scan`: git reading + engine + blob
    cache lookups), `store` (own time of scanner/store code and sqlite3 calls, partly inside
    `history`), `other` (the rest of the scan: crawl glue, findings, report); once per scan:
    `engine_build_s` (rules compiled) and `startup_s` (imports, CLI)."""
    import pstats

    with tempfile.TemporaryDirectory(prefix="orgbench-profile-") as tmp:
        work = Path(tmp)
        prof = work / "scan.prof"
        run = scan_once(url, work, [], {"SPRAWLSCAN_WORKERS": "1"}, python=python,
                        prefix=[python, "-m", "cProfile", "-o", str(prof)])
        check(run, planted, "profiled scan", exit_code=0)  # cProfile swallows SystemExit
        table = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]

    def cum(where: str, func: str) -> float:
        return sum(v[3] for (f, _, fn), v in table.items() if f.endswith(where) and fn == func)

    store = sum(v[2] for (f, _, fn), v in table.items()
                if "/scanner/store/" in f or (f == "~" and "sqlite3" in fn))
    parts = {"api": cum("requests/sessions.py", "request"),
             "clone": cum("sources/clone_cache.py", "mirror"),
             "workflows": cum("sources/clone_cache.py", "head_files"),
             "history": cum("sources/git_history.py", "scan")}
    total = cum("scanner/pipeline.py", "record_or_scan")
    engine = cum("scanner/pipeline.py", "load_engine")  # once per scan
    split = {k: round(v / n * 1000, 1) for k, v in parts.items()}
    split["store"] = round(store / n * 1000, 1)
    split["other"] = round((total - engine - sum(parts.values())) / n * 1000, 1)
    split["engine_build_s"] = round(engine, 1)
    split["startup_s"] = round(run.seconds - total, 1)
    out = {"wall_s": round(run.seconds, 1), "ms_per_repo": split, "cpu_s": run.cpu,
           "api_requests": run.requests["api"], "git_requests": run.requests["git"], "load": load()}
    print(json.dumps({"profile": out}), flush=True)
    return split


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve_forever(Path(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", default="1000", help="Org size, or sizes: 250,1000")
    ap.add_argument("--keep", type=Path, default=None,
                    help="Generate the org here and reuse it (several sizes: DIR/repos-N).")
    ap.add_argument("--modes", default="inproc,workers2,dask")
    ap.add_argument("--unique-every", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--pg", action="store_true", help="Also scan into a local PostgreSQL.")
    ap.add_argument("--venv", type=Path, default=None, help="The bench venv (bench/benchenv.py).")
    ap.add_argument("--dev", action="store_true", help="Run this checkout, not the bench venv.")
    args = ap.parse_args()
    sizes = [int(x) for x in str(args.repos).split(",") if x.strip()]
    modes = [m for m in args.modes.split(",") if m]
    python = sys.executable
    if not args.dev:
        import benchenv

        extras = ",".join([*(["cluster"] if "dask" in modes else []), *(["postgres"] if args.pg else [])])
        bin_dir = benchenv.ensure(*([args.venv] if args.venv else []), peers=False, extras=extras)
        python = str(bin_dir / "python")
    pg = None
    if args.pg:
        import pg_server

        pg = pg_server.start()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="orgbench-") as tmp:
            help_text = cli_flags(python)
            for n in sizes:
                base = args.keep or Path(tmp)
                root = base / f"repos-{n}" if len(sizes) > 1 or args.keep is None else base
                t0 = time.perf_counter()
                planted = generate(root, n, args.unique_every)
                print(json.dumps({"generated": n, "planted": len(planted),
                                  "seconds": round(time.perf_counter() - t0, 1),
                                  "cores": os.cpu_count(), "sprawlscan": python, "load": load()}),
                      flush=True)
                with server_process(root) as (url, _):
                    if args.profile:
                        profile_split(url, n, planted, python)
                    b = Bench(url, n, planted, help_text, python, pg)
                    rows += [bench_mode(mode, b) for mode in modes]
                if args.keep is None:
                    shutil.rmtree(root, ignore_errors=True)
        slopes(rows)
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
