"""Private key blocks: keys made by `ssh-keygen` are found despite their fixed runs of `A`s, and a
key's CRLF and LF copies are one credential."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from tokens import pem_private_key

from detectors.loader import load_rules
from detectors.rule import Rule
from detectors.validators import is_placeholder
from scanner.engine import Engine, accept
from scanner.model import fingerprint
from scanner.pipeline import run_scan


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rules())


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_ssh_keygen_keys_are_found(kind, tmp_path, engine):
    """An unencrypted OpenSSH key fresh from ssh-keygen is reported whole, once."""
    assert shutil.which("ssh-keygen"), "openssh-client is installed by .ci/run"
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "t", "-f", str(key)], check=True)
    text = key.read_text()
    assert "AAAAAAAA" in text  # the run the placeholder filter used to refuse
    matches = engine.scan(("deploy_key: |\n" + text).encode())
    assert [m.rule_id for m in matches] == ["private-key.pem"]
    assert matches[0].secret == text.strip()


def test_runs_still_refuse_values_outside_key_blocks():
    """The exemption is for key blocks and rules that declare runs, not for any value."""
    assert is_placeholder("sk-AAAAAAAAAAAAAAAAbcd1234")
    assert not is_placeholder("sk-AAAAAAAAAAAAAAAAbcd1234", runs=False)
    assert is_placeholder("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----")
    plain = Rule("t.runs", "t", "t", r"(sk-\w+)", ("sk-",))
    assert not accept(plain, "sk-AAAAAAAAAAAAAAAAbcd1234", "")
    runs = Rule("t.runs", "t", "t", r"(sk-\w+)", ("sk-",), allow_runs=True)
    assert accept(runs, "sk-AAAAAAAAAAAAAAAAbcd1234", "")


def test_allow_runs_must_be_a_boolean(tmp_path):
    """A rule file's `allow_runs` is validated like every other field."""
    from scanner.errors import ConfigError

    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nid = "x.y"\nprovider = "x"\npattern = "(x_[a-z]{9})"\nkeywords = ["x_"]\n'
                 'examples = ["x_abcdefghi"]\nallow_runs = "yes"\n')
    with pytest.raises(ConfigError, match="allow_runs"):
        load_rules([f], builtin=False)
    f.write_text(f.read_text().replace('"yes"', "true"))
    assert load_rules([f], builtin=False)[0].allow_runs


def test_crlf_and_lf_copies_of_a_key_are_one_credential(tmp_path, rng):
    """A ticket pasted from Windows (CRLF, trailing blanks) matches the repository's LF copy."""
    key = pem_private_key(rng)
    (tmp_path / "lf.pem").write_bytes(key.encode())
    crlf = "\r\n".join(line + (" " if i % 3 == 0 else "") for i, line in enumerate(key.split("\n")))
    (tmp_path / "ticket.txt").write_bytes(f"Here it is:\r\n{crlf}\r\n".encode())
    result = run_scan([str(tmp_path)])
    [cred] = [c for c in result.credentials if c.rule_id == "private-key.pem"]
    assert {loc.path for loc in cred.locations} == {"lf.pem", "ticket.txt"}
    assert cred.fingerprint == fingerprint(key.strip())


def test_fingerprint_of_single_line_secrets_is_unchanged():
    """Normalisation touches only multi-line secrets: one-line values hash as they are (keyed
    or not)."""
    import hashlib

    high = "Vq7xK2pLm9ZtR4wN8bY3cJ6hF1dS5gQ0 "
    assert fingerprint(high) == hashlib.sha256(high.encode()).hexdigest() != fingerprint(high.strip())
    assert fingerprint("abc ") != fingerprint("abc")
    a, b = "Vq7xK2pLm9ZtR4wN\r\n8bY3cJ6hF1dS5gQ0  \n", "Vq7xK2pLm9ZtR4wN\n8bY3cJ6hF1dS5gQ0\n"
    assert fingerprint(a) == fingerprint(b) == hashlib.sha256(b.encode()).hexdigest()
    assert fingerprint("a\r\nb  \n") == fingerprint("a\nb\n")


def _splice(key: str, token: str, rng) -> str:
    """`key` with one body line rewritten to hold `token` after a `/` (base64 alphabet), keeping
    the line's width: what a random key body holds by chance now and then."""
    lines = key.split("\n")
    i = len(lines) // 2
    width = len(lines[i])
    pad = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                  for _ in range(width - len(token) - 2))
    lines[i] = ("/" + token + "+" + pad)[:width]
    return "\n".join(lines)


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_token_shapes_inside_a_key_body_are_not_tokens(kind, tmp_path, engine, rng):
    """A key body is base64: a run of it shaped like a Square token (`EAAA`+60) is part of the
    key, not a second credential (the cause of the ssh-keygen test's rare failure: 1 rsa key in
    600 held one); the same value outside a key block is still a credential."""
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "t", "-f", str(key)], check=True)
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    square = "EAAA" + "".join(rng.choice(alnum) for _ in range(60))
    text = _splice(key.read_text().strip(), square, rng)
    assert square in text
    for doc in ("deploy_key: |\n" + text + "\n", json.dumps({"key": text + "\n"})):
        matches = engine.scan(doc.encode())
        assert [m.rule_id for m in matches] == ["private-key.pem"]
    outside = engine.scan(f"SQUARE_ACCESS_TOKEN={square}\n".encode())
    assert [m.secret for m in outside] == [square]
