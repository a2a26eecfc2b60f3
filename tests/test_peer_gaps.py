"""What the peers reported on langgraph's history that sprawlscan did not, each decided on its
value: a PostHog project key is a (low-severity) credential; `mongodb://root:example@localhost`
is the Docker `mongo` image's documented sample login; a 29-character `EAAA` run inside base64
binary is not a Square token (Square's are `EAAA` + 60)."""

from __future__ import annotations

import base64

import pytest
from tokens import ALNUM, _s

from detectors.loader import load_rules
from scanner.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_rules())


def test_posthog_project_key_is_found_with_low_severity(engine, rng):
    """`phc_` + 43: PostHog's public project key, still a credential an agent holds (it writes
    events and reads flags); reported, at low severity."""
    key = "phc_" + _s(rng, 43, ALNUM + "_-")
    for text in (f"POSTHOG_KEY={key}\n", f'posthog.init("{key}", {{api_host: "https://us.i.posthog.com"}})\n',
                 f"      body: '{{\"api_key\": \"{key}\", \"event\": \"x\"}}'\n"):
        matches = engine.scan(text.encode())
        assert [(m.rule_id, m.secret) for m in matches] == [("posthog.project-key", key)]
    rule = next(r for r in load_rules() if r.id == "posthog.project-key")
    assert rule.severity == "low"
    assert not engine.scan(b"POSTHOG_KEY=phc_...\n")
    assert not engine.scan(("POSTHOG_KEY=phc_" + _s(rng, 30) + "\n").encode())


def test_mongo_image_sample_login_is_a_placeholder(engine, rng):
    """The `mongo` Docker image documents `root` / `example`; a URL with that login on localhost
    is the sample, not a credential. A real password in the same URL is found."""
    assert not engine.scan(b"def __init__(self, uri='mongodb://root:example@localhost:27017/'):\n")
    password = _s(rng, 20)
    found = engine.scan(f"uri='mongodb://root:{password}@localhost:27017/'\n".encode())
    assert [m.secret for m in found] == [password]


def test_square_prefix_inside_base64_binary_is_not_a_token(engine, rng):
    """A recorded binary body (base64 in a YAML cassette) holds `EAAA` runs by chance (little-endian
    integers); only `EAAA` + 60 is a Square access token."""
    blob = b"".join(rng.randbytes(6) + b"\x10\x00\x00" + rng.randbytes(39) for _ in range(200))
    encoded = base64.b64encode(blob).decode()
    cassette = "      string: !!binary |\n" + "".join(
        f"        {encoded[i:i + 76]}\n" for i in range(0, len(encoded), 76))
    assert "EAAA" in cassette
    assert not [m for m in engine.scan(cassette.encode()) if m.rule_id.startswith("square.")]
    token = "EAAA" + _s(rng, 60, ALNUM + "_-")
    assert [m.secret for m in engine.scan(f"SQUARE_ACCESS_TOKEN={token}\n".encode())] == [token]
