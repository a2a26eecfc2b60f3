"""Validators: the registry resolves, placeholders are refused, structure and proximity hold."""

from __future__ import annotations

import base64
import json
import string

import pytest
from tokens import jwt

from detectors.loader import load_rules
from detectors.validators import VALIDATORS, is_placeholder
from detectors.validators.context import keyword_near
from detectors.validators.structure import jwt_structure


@pytest.mark.parametrize("value", [
    "sk-xxxx", "YOUR_API_KEY", "<OPENAI_KEY>", "sk-...", "changeme", "EXAMPLE-token-9fj3k",
    "aaaaaaaaaaaaaaaa", "abcabcabcabcabcabc", "key_0123456789", "your_api_key_here", "${DB_PASSWORD}",
    "{{ .Values.token }}", "$OPENAI_API_KEY", "password", "Password1!", "%(password)s", "sk-****",
    "ghp_qwertyuiopZZ", "dummy-secret-value",
])
def test_placeholders_are_refused(value):
    """Template and documentation values are never reported."""
    assert is_placeholder(value)


def test_random_values_are_not_placeholders(rng):
    """The filter does not eat real random keys (10,000 draws across alphabets)."""
    alphabets = [string.ascii_letters + string.digits, "0123456789abcdef", string.ascii_letters + string.digits + "+/"]
    hits = sum(is_placeholder("".join(rng.choice(a) for _ in range(rng.randrange(20, 120))))
               for _ in range(3334) for a in alphabets)
    assert hits <= 3


def test_jwt_structure(rng):
    """A JWT decodes to a JSON header with `alg`; look-alikes do not."""
    assert jwt_structure(jwt(rng))
    fake = base64.urlsafe_b64encode(json.dumps({"typ": "x"}).encode()).decode().rstrip("=")
    assert not jwt_structure(f"{fake}.{fake}.c2ln")
    assert not jwt_structure("eyJhbGciOi.eyJzdWIi.sig")


def test_keyword_near():
    """The keyword must be near the secret, outside the secret itself."""
    assert keyword_near("abc123", "FAL_KEY=abc123", ("fal",))
    assert not keyword_near("falabc", "key=falabc", ("fal",))


def test_every_validator_named_by_a_rule_is_registered():
    """Rule files only name registered validators (the loader refuses others)."""
    named = {v for r in load_rules() for v in r.validators}
    assert named <= set(VALIDATORS) and named


JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
          "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


def test_published_samples_are_negatives(tmp_path, rng):
    """The jwt.io token (and tutorial edits of its payload that keep its signature), AWS's and
    Stripe's documentation keys are not findings; a fresh JWT next to them is."""
    from scanner.pipeline import run_scan
    from scanner.model import fingerprint

    edited = JWT_IO.split(".")
    edited[1] = base64.urlsafe_b64encode(b'{"sub":"1","role":"admin"}').decode().rstrip("=")
    fresh = jwt(rng)
    (tmp_path / "README.md").write_text(
        f"token: {JWT_IO}\nAuthorization: Bearer {'.'.join(edited)}\n"
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "stripe.api_key = 'sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc'\n"
        f"session: {fresh}\n")
    creds = run_scan([str(tmp_path)]).credentials
    assert [c.fingerprint for c in creds] == [fingerprint(fresh)]
    assert is_placeholder(JWT_IO) and not is_placeholder(fresh)


def test_samples_file_lists_fingerprints_only():
    """The data file holds SHA-256 fingerprints and signatures, never a sample's full value."""
    from importlib import resources

    text = (resources.files("detectors") / "samples.toml").read_text()
    assert "AKIAIOSFODNN7EXAMPLE" not in text and JWT_IO not in text
