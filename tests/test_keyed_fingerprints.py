"""Keyed fingerprints: a guessable value (a short password in a vault export) has no plain SHA-256
in any report format, notification or datastore (SQLite file bytes, PostgreSQL tables); it is
HMAC-SHA256 under the datastore's key, the user's key file or $SPRAWLSCAN_FINGERPRINT_KEY, flagged
`keyed`; a high-entropy key keeps its plain SHA-256; the same key gives the same fingerprint run
after run, so allowlists keep working."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from tokens import openai_project

from scanner.cli import main
from scanner.fingerprints import estimated_bits, fingerprint_of, key_file
from scanner.model import fingerprint
from scanner.store import Store

PASSWORD = "Summer2024!"  # a guessable value: a dictionary word, a year, a symbol
ENV_KEY = "k" * 8 + "0123456789abcdef0123456789abcdef"


def plain(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def export(tmp_path: Path, key: str, name: str = "export.json") -> Path:
    doc = {"request_id": "77aa", "lease_id": "", "lease_duration": 0, "renewable": False,
           "data": {"data": {"db_password": PASSWORD, "OPENAI_API_KEY": key},
                    "metadata": {"created_time": "2025-03-01T10:00:00.000Z", "custom_metadata": None,
                                 "deletion_time": "", "destroyed": False, "version": 2}},
           "warnings": None}
    f = tmp_path / name
    f.write_text(json.dumps(doc))
    return f


def scan(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["scan", *args])
    return res.exit_code, res.output


def findings(out: str) -> dict[str, dict]:
    return {f["redacted"]: f for f in json.loads(out)["findings"]}


def test_estimate_sorts_passwords_from_tokens(rng):
    """Short passwords fall under 64 bits, generated API keys do not."""
    for pw in (PASSWORD, "hunter2", "correct-horse", "P@ssw0rd123456"):
        assert estimated_bits(pw) < 64 and fingerprint_of(pw)[1]
    key = openai_project(rng)
    assert estimated_bits(key) >= 64 and fingerprint_of(key) == (plain(key), False)


def test_no_plain_hash_of_a_guessable_value_in_any_format(tmp_path, rng, httpserver):
    """Every report format, the webhook notification and the SQLite datastore (its file and WAL
    bytes) carry the HMAC of the vault password and never its SHA-256 (not even the 12-digit
    prefix the table would show); the API key keeps `secret_sha256`."""
    key = openai_project(rng)
    f = export(tmp_path, key)
    target = f"vault-export:{f}"
    db = tmp_path / "s.db"
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    code, out = scan("--db", str(db), "--format", "json", target,
                     "--notify-webhook", httpserver.url_for("/hook"))
    assert code == 1, out
    by_name = {f["locations"][0]["path"].rsplit("#", 1)[1]: f for f in json.loads(out)["findings"]}
    pw, api = by_name["db_password"], by_name["OPENAI_API_KEY"]
    assert pw["fingerprint"] == "keyed" and "secret_sha256" not in pw
    assert len(pw["secret_hmac"]) == 64 and pw["secret_hmac"] != plain(PASSWORD)
    assert api["secret_sha256"] == plain(key) and "fingerprint" not in api
    texts = {"json": out}
    for fmt in ("jsonl", "sarif", "markdown", "html", "table"):
        code, texts[fmt] = scan("--format", fmt, target)
        assert code == 1, texts[fmt]
    texts["webhook"] = b"".join(req.get_data() for req, _ in httpserver.log).decode()
    assert plain(key) in texts["webhook"]
    leaked = plain(PASSWORD)[:12]
    for fmt, text in texts.items():
        assert leaked not in text, fmt
        assert PASSWORD not in text, fmt
    assert json.loads(texts["sarif"])["runs"][0]["results"][0]["partialFingerprints"]
    assert "keyed" in texts["table"] and "keyed" in texts["markdown"]
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s.db"))
    assert pw["secret_hmac"].encode() in stored
    assert leaked.encode() not in stored and plain(key).encode() in stored
    with Store(db) as store:  # what the datastore gives back keeps the flag
        again = {c.fingerprint: c.keyed for c in store.latest_complete_result().credentials}
    assert again == {pw["secret_hmac"]: True, plain(key): False}


def test_postgres_tables_hold_no_plain_hash(tmp_path, rng, pg_url):
    """On PostgreSQL too: no table holds the password's SHA-256; the credential row is keyed
    under the key the datastore created and stored."""
    key = openai_project(rng)
    code, out = scan("--db", pg_url, "--format", "json", f"vault-export:{export(tmp_path, key)}")
    assert code == 1, out
    with psycopg.connect(pg_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        dump = "".join(str(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables)
        [(db_key,)] = conn.execute("SELECT value FROM settings WHERE name = 'fingerprint_key'").fetchall()
        keyed = dict(conn.execute("SELECT fingerprint, keyed FROM credentials").fetchall())
    assert plain(PASSWORD)[:12] not in dump and plain(key) in dump
    expected = hmac.new(db_key.encode(), PASSWORD.encode(), hashlib.sha256).hexdigest()
    assert keyed == {expected: 1, plain(key): 0}


def test_same_key_same_fingerprint_and_allowlist_holds(tmp_path, rng):
    """Without a datastore, the key file (created 0600) makes two runs agree; an allowlist entry
    (the table's 12-digit prefix) of the keyed value keeps suppressing it; with
    $SPRAWLSCAN_FINGERPRINT_KEY the HMAC is under that key."""
    f = export(tmp_path, openai_project(rng))
    target = f"vault-export:{f}"
    first = findings(scan("--format", "json", target)[1])
    second = findings(scan("--format", "json", target)[1])
    [pw] = [v for v in first.values() if v.get("fingerprint") == "keyed"]
    assert pw == [v for v in second.values() if v.get("fingerprint") == "keyed"][0]
    assert stat.S_IMODE(os.stat(key_file()).st_mode) == 0o600
    assert fingerprint(PASSWORD) == pw["secret_hmac"]
    allow = tmp_path / "allow.txt"
    allow.write_text(pw["secret_hmac"][:12] + "\n")
    code, out = scan("--format", "json", "--allowlist", str(allow), target)
    assert code == 1 and pw["secret_hmac"] not in out
    assert json.loads(out)["summary"]["skipped"]["allowlisted"] == 1
    base = tmp_path / "baseline.txt"
    assert CliRunner().invoke(main, ["baseline", "create", str(base), target]).exit_code == 0
    assert pw["secret_hmac"] in base.read_text() and plain(PASSWORD)[:12] not in base.read_text()
    code, out = scan("--format", "json", "--baseline", str(base), target)
    assert code == 0 and json.loads(out)["findings"] == []
    os.environ["SPRAWLSCAN_FINGERPRINT_KEY"] = ENV_KEY
    try:
        env = findings(scan("--format", "json", target)[1])
    finally:
        del os.environ["SPRAWLSCAN_FINGERPRINT_KEY"]
    [env_pw] = [v for v in env.values() if v.get("fingerprint") == "keyed"]
    assert env_pw["secret_hmac"] == hmac.new(ENV_KEY.encode(), PASSWORD.encode(), hashlib.sha256).hexdigest()


def test_datastore_key_is_stable_across_runs_and_dedups(tmp_path, rng):
    """Two recorded scans into one datastore give the password one keyed fingerprint (one
    credential row, copies from two exports deduplicated); another datastore has its own key."""
    key = openai_project(rng)
    a, b = export(tmp_path, key, "a.json"), export(tmp_path, key, "b.json")
    db = str(tmp_path / "a.db")
    r1 = findings(scan("--db", db, "--format", "json", f"vault-export:{a}", f"vault-export:{b}")[1])
    r2 = findings(scan("--db", db, "--format", "json", f"vault-export:{a}")[1])
    [p1] = [v for v in r1.values() if v.get("fingerprint") == "keyed"]
    [p2] = [v for v in r2.values() if v.get("fingerprint") == "keyed"]
    assert p1["secret_hmac"] == p2["secret_hmac"] and len(p1["locations"]) == 2
    other = findings(scan("--db", str(tmp_path / "b.db"), "--format", "json", f"vault-export:{a}")[1])
    [p3] = [v for v in other.values() if v.get("fingerprint") == "keyed"]
    assert p3["secret_hmac"] != p1["secret_hmac"]


def test_bad_env_key_is_refused(tmp_path, rng, monkeypatch):
    """A short $SPRAWLSCAN_FINGERPRINT_KEY (guessable itself) is one line, exit 2."""
    monkeypatch.setenv("SPRAWLSCAN_FINGERPRINT_KEY", "short")
    code, out = scan("--format", "json", f"vault-export:{export(tmp_path, openai_project(rng))}")
    assert code == 2 and "SPRAWLSCAN_FINGERPRINT_KEY" in out


def test_changed_key_is_not_mixed_with_cached_fingerprints(make_repo, tmp_path, monkeypatch):
    """A git history rescan into the same datastore after $SPRAWLSCAN_FINGERPRINT_KEY is set: the
    blob cache filed under the old key is not reused, so the password's fingerprint is the HMAC
    under the new key, not a stale one."""
    repo = make_repo("app")
    repo.write(".env", f"DB_PASSWORD={PASSWORD}\n")
    repo.commit("env", ".env")
    db = str(tmp_path / "s.db")
    first = findings(scan("--db", db, "--format", "json", str(repo.path))[1])
    [old] = [v["secret_hmac"] for v in first.values() if v.get("fingerprint") == "keyed"]
    monkeypatch.setenv("SPRAWLSCAN_FINGERPRINT_KEY", ENV_KEY)
    second = findings(scan("--db", db, "--format", "json", str(repo.path))[1])
    [new] = [v["secret_hmac"] for v in second.values() if v.get("fingerprint") == "keyed"]
    assert new == hmac.new(ENV_KEY.encode(), PASSWORD.encode(), hashlib.sha256).hexdigest() != old
