"""Decoded views of a chunk's text, so that encodings cannot hide a secret: JSON string escapes
(`\\n`, `\\"`, `\\/`, `\\uXXXX`, as in notebooks and JSON configs). Each view keeps a map back to the
original text so that a match is attributed to its original line."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

import regex

_JSON_ESCAPE = regex.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(slots=True)
class View:
    """A text to run rules over, and how its offsets map back to the original text."""

    text: str
    original: str
    _decoded_at: list[int] = field(default_factory=list)
    _original_at: list[int] = field(default_factory=list)

    def original_offset(self, pos: int) -> int:
        i = bisect.bisect_right(self._decoded_at, pos) - 1
        if i < 0:
            return pos
        return self._original_at[i] + (pos - self._decoded_at[i])

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.original_offset(start), self.original_offset(end)


def views(text: str) -> Iterator[View]:
    """The text itself, then each decoded view that differs from it."""
    yield View(text, text)
    if "\\" in text:
        decoded = json_unescape(text)
        if decoded.text != text:
            yield decoded


def json_unescape(text: str) -> View:
    parts: list[str] = []
    decoded_at: list[int] = []
    original_at: list[int] = []
    last = 0
    out_len = 0
    for m in _JSON_ESCAPE.finditer(text):
        parts.append(text[last:m.start()])
        out_len += m.start() - last
        char = chr(int(m.group(1), 16)) if m.group(1) else _SIMPLE[m.group(2)]
        # a breakpoint at the escape and one after it: decoded offsets map back exactly
        decoded_at.append(out_len)
        original_at.append(m.start())
        parts.append(char)
        out_len += 1
        decoded_at.append(out_len)
        original_at.append(m.end())
        last = m.end()
    parts.append(text[last:])
    return View("".join(parts), text, decoded_at, original_at)
