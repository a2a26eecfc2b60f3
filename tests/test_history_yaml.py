"""The history scan runs the structured-config pass on YAML blobs where it reads them: once the
history walk is read, each segment sent to the engine names the blobs a YAML path of the history
names (`Segment.yaml`), and those are not read from git a second time after the scan. Real
repositories made with git; findings and counts must not depend on when the walk arrives."""

from __future__ import annotations

import base64
import threading

import pytest

from scanner.model import ScanStats, fingerprint
from scanner.parallel import WorkerPool
from scanner.sources import git_history
from scanner.sources.base import SourceOptions, scan_chunks
from scanner.sources.git_history import GitHistorySource
from tokens import openai_project


def _random(rng, n=24):
    return "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(n))


def _findings(hits):
    from scanner.findings import Findings

    f = Findings()
    for match, locs in hits:
        f.add(match, locs)
    return f.credentials()


@pytest.fixture
def yaml_repo(make_repo, rng):
    """A history with a Kubernetes Secret, a compose file and a recorded request (Bearer header),
    each changed once, a YAML template (not read by the pass) and a code file."""
    key, pw, plain, env, token = (openai_project(rng), *(_random(rng) for _ in range(4)))
    r = make_repo("yamls")
    r.write("deploy/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: agent\ndata:\n"
            f"  OPENAI_API_KEY: {base64.b64encode(key.encode()).decode()}\n"
            f"  DB_PASSWORD: {base64.b64encode(pw.encode()).decode()}\n")
    r.write("docker-compose.yml", "services:\n  web:\n    image: x\n    environment:\n"
            f"      QUEUE_PASSWORD: {env}\n")
    r.write("app.py", "print('hello')\n")
    r.commit("deploy")
    r.write("deploy/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: agent\n"
            f"stringData:\n  REDIS_PASSWORD: \"{plain}\"\n")
    r.write("cassettes/call.yaml", "interactions:\n- request:\n    uri: https://api.internal.example.org/v1/x\n"
            f"    headers:\n      authorization:\n      - Bearer {token}\n")
    r.write("values.yaml.example", f"services:\n  web:\n    environment:\n      API_SECRET: {_random(rng)}\n")
    r.commit("rotate")
    r.write("docker-compose.yml", "services:\n  web:\n    image: x\n")
    r.commit("no env")
    secrets = {"key": key, "pw": pw, "plain": plain, "env": env, "token": token}
    return r, secrets


def _yaml_blobs(repo) -> set[str]:
    out = repo.git("rev-list", "--all", "--objects")
    return {line.split(" ", 1)[0] for line in out.splitlines()
            if line.endswith((".yaml", ".yml")) and " " in line}


def _scan(src, engine):
    """`GitHistorySource.scan`, with the ids it reads from git again after the blob stream."""
    reread: list[str] = []
    read_blobs = src.read_blobs

    def spy(ids, stats):
        reread.extend(ids)
        return read_blobs(ids, stats)

    src.read_blobs = spy
    stats = ScanStats()
    return _findings(src.scan(engine, stats)), stats, set(reread)


@pytest.mark.parametrize("workers", [1, 2])
def test_yaml_pass_runs_where_the_blob_is_read_and_finds_the_same(yaml_repo, monkeypatch, workers):
    from detectors.loader import load_rules
    from scanner.engine import Engine

    repo, secrets = yaml_repo
    engine = Engine(load_rules())
    monkeypatch.setattr(git_history, "POOL_AFTER", 0)
    monkeypatch.setattr(git_history, "SEGMENT_BYTES", 64)
    options = SourceOptions(workers=workers)
    s0 = ScanStats()
    reference = _findings(scan_chunks(GitHistorySource(repo.path, options).chunks(s0), engine, s0))
    assert {fingerprint(v) for v in secrets.values()} <= {c.fingerprint for c in reference}

    # late: no segment knows a YAML name (the walk arrives after the last one is sent): every
    # YAML blob is read again after the scan, as before
    with monkeypatch.context() as m:
        m.setattr(git_history, "_yaml_name", lambda path: False, raising=False)
        late, late_stats, late_reread = _scan(GitHistorySource(repo.path, options), engine)
    yaml_ids = _yaml_blobs(repo)
    assert len(yaml_ids) == 5 and late_reread >= yaml_ids

    # early: the engine stage starts once the walk is read: no YAML blob is read twice
    walked = threading.Event()
    attribution = GitHistorySource.attribution

    def signalling(self, stats, on_walk=None, **ahead):
        def both(attr):
            on_walk(attr)
            walked.set()
        return attribution(self, stats, *([both] if on_walk else []), **ahead)

    pool_map = WorkerPool.map

    def after_walk(self, fn, tasks):
        walked.wait(10)  # (a scan that never reports its walk fails below)
        yield from pool_map(self, fn, tasks)

    monkeypatch.setattr(GitHistorySource, "attribution", signalling)
    monkeypatch.setattr(WorkerPool, "map", after_walk)
    early, early_stats, early_reread = _scan(GitHistorySource(repo.path, options), engine)
    assert not early_reread & yaml_ids
    assert early == late == reference
    assert early_stats.to_json() == late_stats.to_json() == s0.to_json()
