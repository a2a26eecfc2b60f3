"""Decoded views: secrets hidden by base64 (Kubernetes Secrets, basic auth), URL escapes or JSON
inside base64 are found and attributed to the original line; non-text base64 is not decoded."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from tokens import aws_pair, gcp_service_account, github, openai_project

from detectors.loader import load_rules
from scanner.decoding import base64_view, decode_base64_text, json_unescape, url_unescape
from scanner.engine import Engine

ENGINE = Engine(load_rules())


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def test_kubernetes_secret_data_value_is_decoded_and_attributed_to_its_line(rng):
    """A token stored base64-encoded under `data:` is reported on the line of the encoded value."""
    token = github(rng)
    text = f"apiVersion: v1\nkind: Secret\ndata:\n  user: {b64('deploy-bot')}\n  token: {b64(token)}\n"
    assert [(m.rule_id, m.secret, m.line) for m in ENGINE.scan(text.encode())] == [("github.pat", token, 5)]


def test_basic_auth_header_is_decoded(rng):
    """`Authorization: Basic base64(user:token)` hides the token from the raw text."""
    key = openai_project(rng)
    text = f"GET / HTTP/1.1\nAuthorization: Basic {b64('api:' + key)}\n"
    assert [(m.secret, m.line) for m in ENGINE.scan(text.encode())] == [(key, 2)]


def test_url_encoded_aws_secret_is_decoded(rng):
    """`%2F` and `%2B` inside a form body are decoded; the pair is one credential with its key id."""
    key_id, secret = aws_pair(rng)
    secret = secret[:10] + "/+" + secret[12:]
    text = f"x=1\nbody=aws_access_key_id={key_id}&aws_secret_access_key={quote(secret, safe='')}\n"
    [m] = ENGINE.scan(text.encode())
    assert (m.secret, m.line, dict(m.captures)) == (secret, 2, {"key_id": key_id})


def test_service_account_json_inside_base64_is_found(rng):
    """A GCP key file stored base64-encoded: JSON escapes are decoded inside the decoded base64."""
    key, doc = gcp_service_account(rng)
    text = f"apiVersion: v1\nkind: Secret\ndata:\n  sa.json: {b64(doc)}\n"
    found = {(m.rule_id, m.secret, m.line) for m in ENGINE.scan(text.encode())}
    assert ("gcp.service-account", key, 4) in found
    assert {m[1] for m in found} == {key}


def test_binary_and_short_base64_are_not_decoded(rng):
    """Random bytes (hashes, images, integrity strings) never become a view."""
    assert decode_base64_text(base64.b64encode(rng.randbytes(64)).decode()) is None
    assert decode_base64_text(b64("short")) is None
    assert decode_base64_text(b64("a readable sentence")) == "a readable sentence"
    assert base64_view("integrity: sha512-" + base64.b64encode(rng.randbytes(64)).decode()) is None


def test_views_are_only_built_when_there_is_something_to_decode():
    """Plain text gives no decoded view; each decoder maps offsets back to the original text."""
    plain = "just some words, no escapes or tokens here\n"
    assert (json_unescape(plain), url_unescape(plain), base64_view(plain)) == (None, None, None)
    text = 'a = "x\\/y %2Fz"\nb: ' + b64("a readable sentence") + "\n"
    j, u, b = json_unescape(text), url_unescape(text), base64_view(text)
    assert j is not None and j.text.startswith('a = "x/y')
    assert u is not None and "/z" in u.text
    assert b is not None and b.text.endswith("b: a readable sentence\n")
    assert b.original_offset(b.text.index("readable")) == text.index("b: ") + 3 + len("a ")


def test_base64_outside_a_base64_context_is_not_decoded(rng):
    """The base64 view needs a context literal (`data:` manifest key, `Authorization`, `base64`...):
    a bare encoded token in arbitrary text is a documented blind spot that keeps scans cheap."""
    token = github(rng)
    assert ENGINE.scan(f"value: {b64(token)}\n".encode()) == []
    assert [m.secret for m in ENGINE.scan(f"value_b64: {b64(token)}\n".encode())] == [token]


def test_json_escaped_private_key_is_one_credential(rng):
    """A PEM inside a JSON string matches on the decoded view only, not also as raw `\\n` text."""
    from tokens import pem_private_key

    key = pem_private_key(rng)
    text = json.dumps({"private_key": key})
    assert [m.secret for m in ENGINE.scan(text.encode())] == [key]


def test_same_password_in_two_urls_is_one_credential(tmp_path, rng):
    """Database rules capture the password, so two URLs carrying it dedupe into one credential."""
    from scanner.pipeline import ScanOptions, run_scan

    pw = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(20))
    (tmp_path / "a.env").write_text(f"DATABASE_URL=postgresql://app:{pw}@db.internal:5432/main\n")
    (tmp_path / "b.py").write_text(f'ENGINE = "postgresql+psycopg://admin:{pw}@replica:5432/main"\n')
    [cred] = run_scan([str(tmp_path)], ScanOptions(history=False)).credentials
    assert cred.rule_id == "database.postgres" and len(cred.locations) == 2
    assert dict(cred.captures)["host"] in ("db.internal:5432", "replica:5432")
