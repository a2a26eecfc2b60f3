"""The engine: prefilter backends agree, decoded views find escaped secrets, filters hold."""

from __future__ import annotations

import json

import pytest

from detectors.loader import load_rules
from scanner.engine import Engine
from tokens import github, openai_project

hyperscan = pytest.importorskip("hyperscan")
RULES = load_rules()


def test_hyperscan_and_regex_backends_give_identical_matches(demo_org):
    hs, rx = Engine(RULES, use_hyperscan=True), Engine(RULES, use_hyperscan=False)
    assert (hs.backend, rx.backend) == ("hyperscan", "regex")
    texts = [p.read_bytes() for p in demo_org.rglob("*") if p.is_file() and ".git" not in p.parts]
    texts += [ex.encode() for r in RULES for ex in r.examples + r.negative_examples]
    found = 0
    for data in texts:
        a, b = hs.scan(data), rx.scan(data)
        assert a == b
        found += len(a)
    assert found > len(RULES)


def test_json_escapes_do_not_hide_a_secret(rng):
    key = openai_project(rng)
    # JSON escapes `/` as `\/` and a secret may sit after an escaped newline or quote
    text = json.dumps({"out": f"line1\nkey=\"{key}\""}).replace("/", "\\/")
    matches = Engine(RULES).scan(("{\n" + text + "\n}").encode())
    assert [(m.secret, m.line) for m in matches] == [(key, 2)]


def test_escaped_slash_inside_a_secret_is_decoded(rng):
    # an AWS secret with '/' inside a JSON string written with escaped slashes
    secret = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(38))
    secret = secret[:10] + "/" + secret[10:] + "+"
    text = '{"id": "AKIAQ2XB7RM4KZ3WY6TP", "secret": "%s"}' % secret.replace("/", "\\/")
    matches = [m for m in Engine(RULES).scan(text.encode()) if m.rule_id == "aws.access-key"]
    assert [m.secret for m in matches] == [secret]


def test_inline_allow_comment_suppresses_only_its_line(rng):
    a, b = github(rng), github(rng)
    text = f"A = '{a}'  # sprawlscan:allow\nB = '{b}'\n"
    assert [m.secret for m in Engine(RULES).scan(text.encode())] == [b]


def test_wrong_checksum_and_placeholders_are_not_reported(rng):
    bad = github(rng, valid=False)
    text = f"t1={bad}\nt2=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxT3BlbkFJxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
    assert Engine(RULES).scan(text.encode()) == []


def test_line_numbers_are_one_based(rng):
    key = github(rng)
    matches = Engine(RULES).scan(f"a\nb\n\nx = {key}\n".encode())
    assert [m.line for m in matches] == [4]
