"""`scanner.bindings._enclosing_call` reads only the brackets before a value (one regex pass over
the reversed reach) instead of every character: the same callee as reading character by
character, the reading kept here as the reference, on any text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.bindings import _CALLEE, _enclosing_call


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
                callee = _CALLEE.search(text, max(0, i - 200), i)
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
