"""The escape views and decode regions the engine builds per chunk are exactly those of the
straightforward construction (every escape matched with `regex`, spliced by `substitute`, the
offset map built up front; regions merged one offset at a time): same decoded text, same offset
of every decoded position in the original text, same regions, on any text and window."""

from __future__ import annotations

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.decoding import _SIMPLE, View, json_unescape, substitute, url_unescape
from scanner.decoding import ESCAPE_STARTS, MAY_DECODE_TRIES, may_decode
from scanner.engine import DECODE_AFTER, DECODE_BEFORE, MAX_OCCURRENCES, decode_regions

_JSON = regex.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_URL = regex.compile(r"%(2[BbDdEeFf]|3[Dd]|5[Ff]|7[Ee])")
_TOKEN_START = regex.compile(r"(?r)[^A-Za-z0-9_\-+/=.~]")
"""Searched backwards: the last char before a region that cannot be part of a token."""


def reference_json(text: str, start: int, end: int) -> View | None:
    if text.find("\\", start, end) < 0:
        return None
    window = text[start:end]
    subs = [(m.start(), m.end(), chr(int(m.group(1), 16)) if m.group(1) else _SIMPLE[m.group(2)])
            for m in _JSON.finditer(window)]
    return substitute(window, subs, start) if subs else None


def reference_url(text: str, start: int, end: int) -> View | None:
    if text.find("%", start, end) < 0:
        return None
    window = text[start:end]
    subs = [(m.start(), m.end(), chr(int(m.group(1), 16))) for m in _URL.finditer(window)]
    return substitute(window, subs, start) if subs else None


def reference_regions(text: str, offsets: list[int], after: int) -> list[tuple[int, int]]:
    if len(offsets) > MAX_OCCURRENCES:
        return [(0, len(text))]
    merged: list[list[int]] = []
    for off in offsets:
        start, end = max(0, off - DECODE_BEFORE), min(len(text), off + after)
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(end, merged[-1][1])
        else:
            merged.append([start, end])
    for span in merged:
        m = _TOKEN_START.search(text, max(0, span[0] - DECODE_BEFORE), span[0])
        span[0] = m.end() if m else max(0, span[0] - DECODE_BEFORE)
    return [(a, b) for a, b in merged]


_escapy = st.lists(st.sampled_from(
    ['\\', 'u', '0', '0', '4', '1', 'A', 'f', 'g', 'n', 't', '"', '/', '%', '2', 'B', 'F', '3', 'D',
     '5', '7', 'e', 'x', ' ', '\n', 'é', '\\u00e9', '%2F', '\\n', '\\\\']), max_size=60).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_escapy, data=st.data())
def test_escape_views_equal_the_spliced_construction(text, data):
    """Text and offset map of the JSON and URL views (decoded in one pass, map built on demand)
    equal the reference's for every window and every decoded position, its end included."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    for fast, slow in ((json_unescape, reference_json), (url_unescape, reference_url)):
        got, want = fast(text, start, end), slow(text, start, end)
        assert (got is None) == (want is None)
        if got is None or want is None:
            continue
        assert got.text == want.text and got.base == want.base
        assert ([got.original_offset(p) for p in range(len(got.text) + 1)]
                == [want.original_offset(p) for p in range(len(want.text) + 1)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=st.text(alphabet="ab-_=/ \n.", min_size=1, max_size=40), size=st.integers(0, 6000),
       data=st.data())
def test_decode_regions_equal_the_one_offset_at_a_time_merge(unit, size, data):
    """Merged decode regions (any sorted distinct keyword offsets: gaps just under, at and just
    over the merging distance, and any other; at the text's edges) are the reference's."""
    text = (unit * (size // len(unit) + 1))[:size]
    for after in (DECODE_AFTER, 1, DECODE_BEFORE, 3 * DECODE_BEFORE):
        join = after + DECODE_BEFORE
        gaps = data.draw(st.lists(st.one_of(st.sampled_from([join - 1, join, join + 1]),
                                            st.integers(1, 2 * join)), max_size=12))
        first = data.draw(st.integers(0, 2 * DECODE_BEFORE))
        offsets = [first + sum(gaps[:i]) for i in range(len(gaps) + 1)]
        offsets = [o for o in offsets if o < len(text)]
        assert decode_regions(text, offsets, after) == reference_regions(text, offsets, after)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=st.lists(st.sampled_from(["a", "Z", "9", "-", "=", "/", " ", "\n", ":"]), min_size=1,
                     max_size=30).map("".join),
       size=st.integers(0, 3000), data=st.data())
def test_regions_holding_escape_starts_are_the_regions_that_give_a_view(unit, size, data):
    """With ESCAPE_STARTS, decode regions are exactly the reference's regions in which a JSON or
    URL view can be built (a `\\` or `%` inside): the same spans, in order, none lost, none more;
    escapes are put anywhere, at the merged spans' edges and in the token before them too."""
    text = (unit * (size // len(unit) + 1))[:size]
    for at, piece in sorted(data.draw(st.lists(st.tuples(
            st.integers(0, size), st.sampled_from(["\\", "%", "\\n", "%2F", "\\u00e9"])),
            max_size=4)), reverse=True):
        text = text[:at] + piece + text[at:]
    for after in (DECODE_AFTER, 1, DECODE_BEFORE):
        offsets = sorted(set(data.draw(st.lists(st.integers(0, max(0, len(text) - 1)),
                                                max_size=10)))) if text else []
        want = [(a, b) for a, b in reference_regions(text, offsets, after)
                if any(c in text[a:b] for c in ESCAPE_STARTS)]
        assert decode_regions(text, offsets, after, ESCAPE_STARTS) == want
        for a, b in reference_regions(text, offsets, after):
            if (a, b) not in want:  # a region left out gives no view
                assert json_unescape(text, a, b) is None and url_unescape(text, a, b) is None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(st.sampled_from(["\\", "%", "d", "s", "u", "0", "4", "1", "2", "3", "5", "7",
                                      "B", "f", "n", "x", " ", "\\d", "%s", "\\n", "%2F", "%3d",
                                      "\\u00e9", "\\\\", "\\/", "%7e", "%5F", "%2b"]),
                     max_size=40).map("".join),
       data=st.data())
def test_may_decode_is_true_wherever_a_view_decodes_an_escape(text, data):
    """`may_decode` says False only for a text in which no window's JSON or URL view decodes
    anything: the engine then skips decoding (and reads the lean keyword offsets)."""
    if may_decode(text.encode("latin-1")):
        return
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert json_unescape(text) is None and url_unescape(text) is None
    assert json_unescape(text, start, end) is None and url_unescape(text, start, end) is None


def test_may_decode_gives_up_true_after_many_starts_that_are_no_escape():
    """Past MAY_DECODE_TRIES escape starts that begin no escape it says True (decode, as before)
    rather than read on; below, an escape after them is still seen, and none is none."""
    assert may_decode(b"\\d" * MAY_DECODE_TRIES + b"\\n")
    assert may_decode(b"%s" * (MAY_DECODE_TRIES + 1))
    assert may_decode(b"\\d" * (MAY_DECODE_TRIES - 1) + b"%2F")
    assert may_decode(b"\\d" * (MAY_DECODE_TRIES - 1) + b"\\u0041")
    assert not may_decode(b"\\d" * (MAY_DECODE_TRIES - 1) + b"%s" * (MAY_DECODE_TRIES - 1))
    assert not may_decode(b"no escape at all \\")
