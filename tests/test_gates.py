"""Rule gates (`scanner.gates`): every built-in rule gets one, a gate is a superset of its rule
as the `regex` module reads it on latin-1 text (non-ASCII word and space characters, window
edges, escapes decoded, guards at line ends), constructs the two engines read differently get no
gate, and the gated Hyperscan engine finds exactly what the ungated `regex` backend finds."""

from __future__ import annotations

import random

import hyperscan
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from detectors.rule import Rule
from scanner.engine import Engine
from scanner.gates import SLOW_GATES, gate_pattern
from tokens import SAMPLES

RULES = load_rules()
HS, RX = Engine(RULES, backend="hyperscan"), Engine(RULES, backend="regex")


def fires(pattern: str, text: bytes) -> bool:
    gate = gate_pattern(pattern)
    assert gate is not None
    db = hyperscan.Database()
    db.compile(expressions=[gate], ids=[0], elements=1,
               flags=[hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH])
    hit: list[int] = []
    db.scan(text, match_event_handler=lambda *a: hit.append(1))
    return bool(hit)


def test_every_builtin_rule_has_a_gate():
    """All built-in rules translate and compile as gates, so none of them falls back to running
    its regex around every keyword occurrence."""
    slow = {ri for ri, r in enumerate(RULES) if r.id in SLOW_GATES}
    assert slow and HS._gated == frozenset(range(len(RULES))) - slow
    assert RX._gated == frozenset()


@pytest.mark.parametrize("pattern,text,window", [
    (r"tok_\w{4}", "tok_ab\xe9d", None),        # `\w` of latin-1 text: é is a word character
    (r"a[\w.]{3}z", "a\xaa.\xb5z", None),        # ... inside a class too
    (r"a\s+b", "a\xa0\x85b", None),              # no-break space and NEL are spaces
    (r"key=\w+$", "x key=abc y", (0, 9)),        # `$` at a window's end
    (r"k.\b", "k\xe9 ", None),                   # a boundary only Unicode `\w` sees
    (r"k[^\w]v", "k\xd7v", None),                # a negated class keeps its wider ASCII complement
    (r"(?<![a-z])abc(?![a-z])", "abc", None),     # guards at the text edges
    (r"abc(?![a-z\s])", "abc\nd", (0, 3)),        # a guard at a window's end (a line end)
    (r"x{,3}y", "xxy", None),                     # the `regex` module's `{,n}`
])
def test_gate_fires_wherever_the_regex_module_matches(pattern, text, window):
    """Each rewrite keeps the gate a superset on latin-1 text: where the `regex` module matches
    (in the engine's window, when given), the gate fires on the whole text."""
    assert regex.compile(pattern).search(text, *(window or ()))
    assert fires(pattern, text.encode("latin-1"))


def test_one_character_guards_stay_exact():
    """A leading lookbehind and a trailing lookahead of one class are kept as consumed
    characters, so a token inside a longer run of its alphabet does not open the gate."""
    pattern = r"(?<![A-Za-z0-9_\-])(EAAA[A-Za-z0-9]{8})(?![A-Za-z0-9_\-])"
    assert fires(pattern, b'key="EAAAbcdefgh1"')
    assert not fires(pattern, b"xEAAAbcdefgh1")
    assert not fires(pattern, b"EAAAbcdefgh1z")


@pytest.mark.parametrize("pattern", [
    r"(?i)x(?s)y",              # a flag set mid-pattern applies to all of it in `regex`
    r"\p{L}{10}",               # Unicode properties
    r"a++b",                    # possessive
    r"(?>ab)c",                 # atomic group
    r"[[:alpha:]]{4}",          # POSIX class
    "caf\xe9_[a-z]{8}",         # non-ASCII literal (caseless folding differs)
    r"\u00e9[a-z]{4}",          # escapes Hyperscan reads otherwise
    r"(?x) a b c",              # verbose mode
])
def test_constructs_read_differently_get_no_gate(pattern):
    """A pattern with a construct outside the translated list gets no gate (its rule runs as
    without gates), never a gate that might be narrower than the rule."""
    assert gate_pattern(pattern) is None


def test_a_rule_without_gate_still_runs():
    """A user rule whose pattern cannot be gated is still found by the Hyperscan engine."""
    rule = Rule(id="user.atomic", provider="user", name="atomic group",
                pattern=r"(?>zq_)(?P<secret>[a-z0-9]{20})", keywords=("zq_",))
    engine = Engine([rule], backend="hyperscan")
    assert engine._gated == frozenset()
    found = engine.scan(b"token = zq_q8v2kx7m3p9w4t6z1r5n\n")
    assert [m.secret for m in found] == ["q8v2kx7m3p9w4t6z1r5n"]


_FILLER = ["\n", " ", "\xe9", "\xa0", "\x85", "\xaa", '"', "'", "=", ":", "\\n", '\\"', "\\\\",
           "%41", "%2F", "\\u0041", "\\u4e2d", "x", "_", "-", "/", "+"]


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32),
       filler=st.lists(st.sampled_from(_FILLER), min_size=1, max_size=6))
def test_gated_engine_finds_what_the_ungated_engine_finds(seed, filler):
    """Every rule's generated token, written in with latin-1 word and space characters, JSON and
    URL escapes (one past U+00FF) and line breaks around it: the gated Hyperscan engine gives the
    same matches as the `regex` backend, which runs every rule around every keyword."""
    rng = random.Random(seed)
    pieces: list[str] = []
    for rule in RULES:
        sample = SAMPLES[rule.id](rng)
        for key, value in sample.assignments:
            glue = "".join(rng.choice(filler) for _ in range(2))
            pieces.append(f"{glue}{key}={glue[::-1]}{value}{glue}")
    text = "".join(pieces)
    data = text.encode("latin-1", "replace")
    a, b = HS.scan(data), RX.scan(data)
    assert a == b
    assert a  # not trivially empty


def test_decoded_view_past_latin1_is_not_gated_away():
    """A token that only the JSON-decoded view shows (after a `\\n` escape), in a region that
    also decodes to a character past U+00FF, is found by both backends."""
    token = SAMPLES["square.access-token"](random.Random(7)).secret
    data = ('{"note": "\\u4e2d\\n' + token + '"}\n').encode()
    assert token in {m.secret for m in RX.scan(data)}
    assert HS.scan(data) == RX.scan(data)


@pytest.mark.parametrize("rule_id", sorted(SLOW_GATES))
def test_rule_with_a_slow_gate_runs_ungated_and_finds_its_examples(rule_id):
    """A built-in rule left without gate (`SLOW_GATES`) is still found by the Hyperscan engine,
    exactly as by the regex backend, in every one of its examples."""
    ri = next(i for i, r in enumerate(RULES) if r.id == rule_id)
    assert ri not in HS._gated
    for example in RULES[ri].examples:
        data = example.encode("utf-8")
        hs = [(m.rule_id, m.line) for m in HS.scan(data)]
        assert rule_id in {r for r, _ in hs}
        assert hs == [(m.rule_id, m.line) for m in RX.scan(data)]


def test_gate_hyperscan_refuses_leaves_only_its_rule_ungated(tmp_path, monkeypatch):
    """A user rule whose gate may match empty (Hyperscan refuses to compile it) runs ungated and
    its keyword stays loud, while the other rule keeps its gate, in both databases: compiled on
    a cache miss (the two at once), then loaded from the cache; both rules are still found."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rules = [Rule(id="user.empty", provider="user", name="may match empty",
                  pattern=r"(?P<secret>[a-z]*)", keywords=("zq=",)),
             Rule(id="user.ok", provider="user", name="prefixed",
                  pattern=r"(?<![a-z])(?P<secret>qq_[a-z0-9]{20})", keywords=("qq_",))]
    for _ in range(2):
        engine = Engine(rules, backend="hyperscan")
        assert engine._hs_db is not None
        assert engine._gated == frozenset({1}) == engine._hs_db.quiet_rules
        found = engine.scan(b"x zq= abc qq_q8v2kx7m3p9w4t6z1r5n\n")
        assert "qq_q8v2kx7m3p9w4t6z1r5n" in [m.secret for m in found]
        assert len([m for m in found if m.rule_id == "user.empty"]) >= 1
