"""Decoded views of a chunk's text, so that encodings cannot hide a secret: JSON string escapes
(`\\n`, `\\"`, `\\/`, `\\uXXXX`, as in notebooks and JSON configs). A view covers one window of the
original text and keeps a map back to it, so that a match is attributed to its original line."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import regex

_JSON_ESCAPE = regex.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


@dataclass(slots=True)
class View:
    """A text to run rules over, and how its offsets map back to the original text."""

    text: str
    """The decoded text of the window."""
    base: int = 0
    """Offset of the window in the original text."""
    _decoded_at: list[int] = field(default_factory=list)
    _original_at: list[int] = field(default_factory=list)

    def original_offset(self, pos: int) -> int:
        i = bisect.bisect_right(self._decoded_at, pos) - 1
        if i < 0:
            return self.base + pos
        return self.base + self._original_at[i] + (pos - self._decoded_at[i])


def json_unescape(text: str, start: int = 0, end: int | None = None) -> View | None:
    """The window `text[start:end]` with JSON string escapes decoded, or None if it has none."""
    end = len(text) if end is None else end
    if text.find("\\", start, end) < 0:
        return None
    window = text[start:end]
    parts: list[str] = []
    decoded_at: list[int] = []
    original_at: list[int] = []
    last = 0
    out_len = 0
    for m in _JSON_ESCAPE.finditer(window):
        parts.append(window[last:m.start()])
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
    if not decoded_at:
        return None
    parts.append(window[last:])
    return View("".join(parts), start, decoded_at, original_at)
