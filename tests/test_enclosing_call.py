"""`scanner.bindings._enclosing_call` reads only the brackets before a value (one regex pass over
the reversed reach) instead of every character: the same callee as reading character by
character, the reading kept here as the reference, on any text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.bindings import _callee_before, _enclosing_call

OLD_CALLEE = re.compile(r"([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*$")
"""How the callee before `(` was read (sprawlscan 456dbc0): a regex search over 200 characters."""


def reference(text: str, pos: int, reach: int = 4000) -> str:
    """The character-by-character reading (sprawlscan before the bracket pass)."""
    depth = 0
    i = pos - 1
    stop = max(0, pos - reach)
    while i >= stop:
        c = text[i]
        if c in ")]}":
            depth += 1
        elif c in "([{":
            if depth:
                depth -= 1
            elif c == "(":
                callee = OLD_CALLEE.search(text, max(0, i - 200), i)
                return re.sub(r"\s+", "", callee.group(1)) if callee else ""
            elif c == "{":
                j = i - 1
                while j >= stop and text[j] in " \t\r\n":
                    j -= 1
                if j < stop or text[j] != "(":
                    return ""
                i = j
                continue
            else:
                return ""
        i -= 1
    return ""


def test_known_calls():
    text = ('import openai\nx = [1, (2)]\nclient = openai.OpenAI(\n    base_url=f(y),\n'
            '    api_key="sk-xxxxxxxx",\n)\nnew Mistral( {apiKey: "abcdefgh"} )\nkey = "abcdefghij"\n')
    assert _enclosing_call(text, text.index('"sk-')) == "openai.OpenAI"
    assert _enclosing_call(text, text.index('"abcdefgh"')) == "Mistral"
    assert _enclosing_call(text, text.index('"abcdefghij"')) == ""  # top level
    assert _enclosing_call(text, text.index('"sk-'), reach=10) == ""  # the call is out of reach
    assert _enclosing_call("d = {k: 'v'}", 9) == ""  # a dict, no call
    assert _enclosing_call("f(a, [b, 'v'])", 12) == ""  # inside a list in a call


_PIECES = st.sampled_from(list("()[]{} \t\r\n.aZ_$1:=,'\"") + ["new Client(", "openai.OpenAI(",
                                                             "( {", "api_key=", "\u00e9"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=60).map("".join), st.integers(0, 120), st.integers(1, 40))
def test_same_callee_as_reading_every_character(text, pos, reach):
    pos = min(pos, len(text))
    assert _enclosing_call(text, pos, reach) == reference(text, pos, reach)
    assert _enclosing_call(text, pos) == reference(text, pos)


# name characters ASCII and not (`\w` is Unicode, a name's first character ASCII), digits, `$`,
# `_`, dots, every kind of space `\s` reads (a line separator, a no-break space, a vertical tab)
_NAME_PIECES = st.sampled_from(["a", "Z", "_", "$", "1", "9", "\u00e9", "\u0663", "\u2167", ".", " ", "\t", "\n",
                                "\r", "\x0b", "\x1c", "\u2028", "\u00a0", "\u3000", "(", "-", "openai", "OpenAI",
                                " . ", "..", "new ", "x.y.z"])


@settings(max_examples=4000, deadline=None, derandomize=True)
@given(st.lists(_NAME_PIECES, max_size=24).map("".join), st.integers(0, 80), st.integers(0, 30))
def test_callee_before_is_the_callee_regex(text, end, reach):
    """The backward parse of the callee gives what the regex search gave, spaces dropped: the
    leftmost start, names that begin past a digit or a non-ASCII letter, dots between spaces,
    a reach that cuts a name, no name at all."""
    end = min(end, len(text))
    for r in (reach, 200):
        old = OLD_CALLEE.search(text, max(0, end - r), end)
        assert _callee_before(text, end, r) == (re.sub(r"\s+", "", old.group(1)) if old else "")


def test_callee_before_examples():
    assert _callee_before("client = openai . OpenAI ", 25) == "openai.OpenAI"
    assert _callee_before("x = 9.abc", 9) == "abc"
    assert _callee_before("x = a..b", 8) == "b"
    assert _callee_before("x = openai.OpenAI", 17, reach=4) == "enAI"  # a cut name
    assert _callee_before("f = 123", 7) == ""
