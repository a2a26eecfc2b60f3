"""A rule's reach (scanner/reach.py) bounds its windows around keyword occurrences: the bound is
computed from the `regex` module's own parse, refused for anything it cannot show, and windows cut
to it find exactly what the line-wide windows find, on both backends, wherever the token sits
relative to its keyword (before, after, far along one line, across line breaks)."""

from __future__ import annotations

import re
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from scanner.engine import WINDOW_BEFORE, Engine, windows
from scanner.reach import reach

RULES = load_rules()
BY_ID = {r.id: r for r in RULES}
HS, RX = Engine(RULES, backend="hyperscan"), Engine(RULES, backend="regex")
OLD = Engine(RULES, backend="regex")
for _c in OLD.rules:  # the line-wide windows every rule had before reaches
    _c._reach = None


def test_reach_of_the_azure_devops_rule_is_its_longest_match_plus_its_lookahead():
    """12 (`azure_devops`) + 30 + 4 + 6 + 15 + 3 + 5 + 2 + 5 + 1 + 52 consumed, + 1 read by the
    trailing lookahead: 136."""
    rule = BY_ID["azure.devops-pat"]
    assert reach(rule.pattern, rule.keywords) == 136


@pytest.mark.parametrize(("pattern", "keywords", "expected"), [
    (r"EAAA[A-Za-z0-9]{60}", ["EAAA"], 64),
    (r"(?<![a-z])tok_[a-z]{10}(?![a-z])", ["tok_"], 16),
    (r"\btok_[a-z]{10}\b", ["tok_"], 18),                      # a boundary reads 1 each side
    (r"(?i)(?:A|a)Do[0-9]{4}", ["ado"], 7),                       # keyword spread over nodes
    (r"[Aa][Dd][Oo]-[0-9]{4}", ["ado"], 8),                       # ... and over small classes
    (r"(?:azure[_\-]?devops|ado)=[a-z]{3}", ["devops", "ado"], 16),
    (r"(?:ado){1,2}x", ["ado"], 7),
    (r"[[:alpha:]]ado", ["ado"], 4),     # a POSIX class to `regex`; `re` reads `[[:alph]` + `a]`
    (r"(?s)ado.{1,100}?(?=[0-9]{8})", ["ado"], 111),              # lookahead reads 8 more
])
def test_bounded_patterns(pattern, keywords, expected):
    """Patterns whose every match holds a keyword: the reach is the longest match plus what its
    lookarounds and boundaries read."""
    assert reach(pattern, keywords) == expected


@pytest.mark.parametrize(("pattern", "keywords"), [
    (r"ado[a-z]+", ["ado"]),                       # unbounded
    (r"(?:ado|xyz)[a-z]{5}", ["ado"]),             # one branch has no keyword
    (r"(?:ado)?[a-z]{5}", ["ado"]),                # optional keyword
    (r"ad?o[0-9]{4}", ["ado"]),                    # `ao` is no keyword
    (r"(?<=ado)[a-z]{5}", ["ado"]),                # the keyword is read, not matched
    (r"^ado[a-z]{5}", ["ado"]),                    # anchors mean other things in a window
    (r"ado[a-z]{5}$", ["ado"]),
    (r"(?m)^ado[a-z]{5}", ["ado"]),
    (r"(a)do\1{3}", ["ado"]),                      # back-reference
    (r"(?:ado){e<=1}[a-z]{3}", ["ado"]),           # fuzzy: `re` would read `{e<=1}` as text
    (r"(?V1)ado[a-z]{3}", ["ado"]),
    (r"(?fi)ado\xdf{2}", ["ado"]),                 # full case folding: `ß` matches `ss`
    (r"(?r)ado[a-z]{3}", ["ado"]),                 # reverse search
    (r"ado\K[a-z]{3}", ["ado"]),                   # \K moves the match start
    (r"(?w)\bado[a-z]{3}", ["ado"]),               # Unicode word boundaries read further
    (r"ado[a-z]{3}", ["adö"]),                     # a non-ASCII keyword
    (r"ado(?=.*x)[a-z]{3}", ["ado"]),              # an unbounded lookahead
    (r"ado\p{L}{3}(?(1)a|b)", ["ado"]),           # a conditional
])
def test_unbounded_or_unknown_patterns_keep_the_line_wide_window(pattern, keywords):
    """No reach where a match may lack a keyword, run without bound, or use a construct the
    analysis does not read (then the engine keeps today's window)."""
    assert reach(pattern, keywords) is None


def test_most_catalogue_rules_are_bounded_and_the_costly_ones_are():
    """The rules that cost most on the regex backend (pre-reach) all get a reach."""
    got = {r.id: reach(r.pattern, r.keywords) for r in RULES}
    for rid in ("azure.devops-pat", "square.access-token", "atlassian.legacy-token",
                "razorpay.key-secret", "bitwarden.access-token", "airtable.pat"):
        assert got[rid] is not None, rid
    assert sum(v is not None for v in got.values()) > 0.8 * len(RULES)


def _regex_matches(rule_index: int, text: str, spans: list[tuple[int, int]]) -> set[tuple]:
    c = RX.rules[rule_index]
    return {(m.span(), m.groups()) for a, b in spans for m in c.regex.finditer(text, a, b)}


def _offsets(rule_index: int, text: str) -> list[int]:
    data = text.encode("latin-1")
    hits = RX.keyword_hits(data)
    assert hits == HS.keyword_hits(data)
    return sorted({o for kw, offs in hits.items() if rule_index in RX._rules_by_kw[kw] for o in offs})


def test_a_window_one_short_of_the_reach_reports_a_token_that_runs_on():
    """The lookahead's character is part of the reach: `EAAA` + 60 token chars followed by one
    more is no Square token, but a window ending after the 60th char reads it as one."""
    ri = next(i for i, c in enumerate(RX.rules) if c.rule.id == "square.access-token")
    text = "x = EAAA" + "Ab1" * 20 + "Q;\n"
    offsets = _offsets(ri, text)
    r = RX.rules[ri].reach
    assert r == 66 and offsets == [4]
    assert _regex_matches(ri, text, windows(text, offsets, r)) == set()
    assert _regex_matches(ri, text, windows(text, offsets, None)) == set()
    assert _regex_matches(ri, text, windows(text, offsets, r - 2)) != set()


def _re_compatible(pattern: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            re.compile(pattern)
        except (re.error, FutureWarning):
            return False
    return True


BOUNDED = [i for i, c in enumerate(RX.rules)
           if c.reach is not None and c.rule.keywords and _re_compatible(c.rule.pattern)]
_FILL = st.text(alphabet="qxz_ ;=\t", max_size=40)


@st.composite
def _placed(draw: st.DrawFn) -> tuple[int, str]:
    """A rule and a text holding a string its pattern matches in full (drawn from the pattern:
    every optional part, gap and line break it allows), inside filler that may run far along
    the same line or across lines, with more occurrences of the rule's keywords around."""
    ri = draw(st.sampled_from(BOUNDED))
    rule = RX.rules[ri].rule
    # `re` draws it; `regex` must agree it matches (their `\s` differ on \x1c-\x1f)
    token = draw(st.from_regex(rule.pattern, fullmatch=True,
                               alphabet=st.characters(max_codepoint=255))
                 .filter(RX.rules[ri].regex.fullmatch))
    before, after = [], []
    for side in (before, after):
        for _ in range(draw(st.integers(0, 4))):
            side.append(draw(st.one_of(_FILL, st.sampled_from(rule.keywords),
                                       st.just("\n"), st.integers(1, 12_000).map("q".__mul__))))
    sep = draw(st.sampled_from([" ", "\n", "\t"]))
    return ri, "".join(before) + sep + token + sep + "".join(after)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(_placed())
def test_reach_windows_find_what_line_wide_windows_find(placed):
    """For every bounded rule, a string drawn from its own pattern placed anywhere in a text
    gives the same regex matches over reach-cut windows as over the line-wide windows (and, for
    reaches within WINDOW_BEFORE, as over the whole text, which holds at least one)."""
    ri, text = placed
    offsets = _offsets(ri, text)
    r = RX.rules[ri].reach
    cut = _regex_matches(ri, text, windows(text, offsets, r))
    assert cut == _regex_matches(ri, text, windows(text, offsets, None))
    if r is not None and r <= WINDOW_BEFORE:
        assert cut and cut == _regex_matches(ri, text, [(0, len(text))])


WITH_EXAMPLES = [r for r in RULES if r.examples and reach(r.pattern, r.keywords) is not None]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(WITH_EXAMPLES), st.data())
def test_an_example_anywhere_is_found_alike_by_both_backends(rule, data):
    """A rule example inside a long minified line or between other lines, with the rule's
    keywords repeated before and after it: both backends give the same matches as the engine
    with line-wide windows, and every secret the example gives alone is among them."""
    example = data.draw(st.sampled_from(rule.examples))
    parts = []
    for _ in range(data.draw(st.integers(0, 6))):
        parts.append(data.draw(st.one_of(st.sampled_from(rule.keywords), _FILL, st.just("\n"),
                                          st.integers(1, 20_000).map("q".__mul__))))
    at = data.draw(st.integers(0, len(parts)))
    sep = data.draw(st.sampled_from([" ", "\n"]))
    text = "".join(parts[:at]) + sep + example + sep + "".join(parts[at:])
    raw = text.encode("utf-8")
    got = RX.scan(raw)
    assert got == HS.scan(raw) == OLD.scan(raw)
    alone = {(m.rule_id, m.secret) for m in RX.scan(example.encode("utf-8"))}
    assert alone <= {(m.rule_id, m.secret) for m in got}
