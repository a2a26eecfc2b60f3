"""The lean prefilter (`scanner.gates.Database.lean`: a keyword all of whose rules are gated is
reported once, in a text with nothing to decode) changes no finding: the engine gives exactly the
matches of an engine that reads every occurrence of every keyword in every text, with tokens
behind far decoys of their own keyword (the gate fired: every offset is needed) and written with
JSON and URL escapes (decoded views need every offset)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from scanner.engine import Engine
from tokens import SAMPLES

RULES = load_rules()


class _Every(Engine):
    """The engine as it was before the lean database: every keyword offset of every text, every
    chunk with a keyword gone through."""

    def _prefilter(self, data: bytes, every: bool = False,  # type: ignore[no-untyped-def]
                   plain: bool | None = None):
        return super()._prefilter(data, every=True)

    def _idle(self, hits: dict[int, list[int]], fired: set[int]) -> bool:
        return False

    def _fired(self, text: str) -> set[int] | None:
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            return None
        assert self._hs_db is not None
        return self._hs_db.scan(data, self._lengths)[1]


HS, EVERY = Engine(RULES, backend="hyperscan"), _Every(RULES, backend="hyperscan")
assert HS._hs_db is not None
QUIET_RULES = sorted(HS._hs_db.quiet_rules)
_ESCAPED = [lambda v: v,
            lambda v: v.replace("/", "\\/").replace('"', '\\"'),  # JSON
            lambda v: v.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D"),  # URL
            lambda v: v[:len(v) // 2] + "\\u%04x" % ord(v[len(v) // 2]) + v[len(v) // 2 + 1:]]


def test_quiet_keywords_are_reported_once_in_a_lean_scan():
    """In a text with nothing to decode, a keyword whose rules are all gated and did not fire
    comes back with its first offset only (the callbacks saved), every other keyword and the
    fired gates as in a full scan; a text with an escape to decode gets every offset, one whose
    `\\` and `%` start no escape (a regex, a format string) the lean ones."""
    db = HS._hs_db
    assert db is not None and QUIET_RULES
    kw = HS._keywords.index(b"0.")  # bitwarden's: the most frequent keyword of a history scan
    assert HS._rules_by_kw[kw] and set(HS._rules_by_kw[kw]) <= db.quiet_rules
    data = b"x = [0.5, 0.25, 0.125]\nAuthorization: Basic dXNlcjpwYXNzd29yZA==\n"
    lean, full = db.scan(data, HS._lengths, True), db.scan(data, HS._lengths)
    assert full[0][kw] == [5, 10, 16] and lean[0][kw] == [5]
    assert {k: v for k, v in lean[0].items() if k != kw} == {k: v for k, v in full[0].items()
                                                                if k != kw}
    assert lean[1] == full[1]
    assert HS._prefilter(data + b"\\n")[0][kw] == [5, 10, 16]
    assert HS._prefilter(data + b"%2F")[0][kw] == [5, 10, 16]
    assert HS._prefilter(data + b"re.compile(r'\\d+%')")[0][kw] == [5]  # nothing to decode


def test_token_behind_a_far_decoy_of_its_keyword_is_found():
    """A quiet keyword's first occurrence far before the token (no window reaches it): the
    token's gate fires, so the engine reads every offset and finds it, as the full engine does."""
    sample = SAMPLES["bitwarden.access-token"](random.Random(3))
    data = ("x = 0.5\n" + "y = 1\n" * 3000 + f"BWS_ACCESS_TOKEN={sample.secret}\n").encode()
    assert b"\\" not in data and b"%" not in data
    found = HS.scan(data)
    assert [m.secret for m in found] == [sample.secret]
    assert found == EVERY.scan(data)


def test_json_escaped_token_in_a_text_without_raw_match_is_found():
    """A token only its JSON-decoded view shows (`/` written `\\/`), far behind a decoy of its
    keyword, is found: a text with a `\\` is scanned for every offset, whose regions are
    decoded."""
    sample = SAMPLES["bitwarden.access-token"](random.Random(4))
    assert "/" in sample.secret
    data = ('{"x": 0.5,\n' + '"y": 1,\n' * 3000 + '"BWS_ACCESS_TOKEN": "'
            + sample.secret.replace("/", "\\/") + '"}\n').encode()
    assert sample.secret.encode() not in data
    assert [m.secret for m in HS.scan(data)] == [sample.secret] == [
        m.secret for m in EVERY.scan(data)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), picks=st.lists(st.tuples(
    st.integers(0, 10**6), st.integers(0, len(_ESCAPED) - 1), st.sampled_from([0, 1, 1500, 9000]),
    st.sampled_from(["\n", " ", '"', "=", ": ", "\\n", "%41", "\\d", "%s"])), min_size=1,
    max_size=5))
def test_lean_engine_gives_the_matches_of_the_engine_reading_every_offset(seed, picks):
    """Tokens of rules with quiet keywords, plain or escaped, each behind a decoy of one of its
    keywords at some distance, in texts with and without escapes: the same matches."""
    rng = random.Random(seed)
    pieces = []
    for which, esc, gap, glue in picks:
        rule = RULES[QUIET_RULES[which % len(QUIET_RULES)]]
        sample = SAMPLES[rule.id](rng)
        key, value = sample.assignments[0]
        decoy = rule.keywords[0]
        pieces.append(f"{decoy}{glue}" + "w " * (gap // 2)
                      + f"{glue}{key}={_ESCAPED[esc](value)}{glue}")
    data = "".join(pieces).encode("utf-8")
    assert HS.scan(data) == EVERY.scan(data)
