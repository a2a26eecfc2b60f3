"""Decoded views of a chunk's text, so that encodings cannot hide a secret. Takes the chunk text,
gives `View`s: the text itself, then, only when the text has candidates for them,
- JSON string escapes decoded (`\\n`, `\\"`, `\\/`, `\\uXXXX`: notebooks, JSON configs);
- URL escapes of token characters decoded (`%2F`, `%2B`, `%3D`...: query strings, form bodies);
- base64 tokens decoded in place when they decode to text (Kubernetes Secret `data:` values,
  `Authorization: Basic` headers, CI variables stored encoded).
Each view keeps a map back to the original text so that a match is attributed to its original
line: a position inside a decoded span maps into the span it came from."""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import regex

_JSON_ESCAPE = regex.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# only characters that occur inside tokens: decoding `%40` or `%3A` would re-split URLs' userinfo
_URL_ESCAPE = regex.compile(r"%(2[BbDdEeFf]|3[Dd]|5[Ff]|7[Ee])")
# Base64 of ASCII text: the first char of every quad encodes the top six bits of a byte below
# 0x80, so it is one of `C D` (tab, newline, CR) or `I`..`f` (printable). Identifiers and random
# base64 fail this within a few quads, so few tokens reach the decoder. The stdlib `re` runs this
# simple class pattern several times faster than `regex`.
_Q = r"[CDI-Za-f]"
_B64_TOKEN = re.compile(rf"(?<![A-Za-z0-9+/=_\-%])(?:{_Q}[A-Za-z0-9+/]{{3}}){{4,}}"
                        rf"(?:{_Q}[A-Za-z0-9+/]==|{_Q}[A-Za-z0-9+/]{{2}}=)?(?![A-Za-z0-9+/=_\-])")
MIN_B64_TEXT = 8
"""Decoded base64 shorter than this is not worth a view."""
MAX_B64_TOKEN = 100_000
"""Longer base64 runs (embedded images, archives) are not decoded."""
BASE64_CONTEXT = ("authorization", "\ndata:", "kind: secret", "base64", "b64", "dockerconfig", '"auth"')
"""Case-insensitive literals of which one must occur for the base64 view to be built: Kubernetes
Secret `data:` (a top-level key), `Authorization: Basic` headers, docker `auth`, values named
`*_B64` or said to be base64. The engine puts them
in its keyword prefilter, so the gate costs nothing extra."""

Substitution = tuple[int, int, str]
"""(start, end, replacement) in the original text."""


@dataclass(slots=True)
class View:
    """A text to run rules over, and how its offsets map back to the original text."""

    text: str
    original: str
    kind: str = "raw"
    _decoded_at: list[int] = field(default_factory=list)
    _original_at: list[int] = field(default_factory=list)
    parent: View | None = None
    """The view this one decodes (JSON escapes inside base64), or None when it decodes `original`."""

    def original_offset(self, pos: int) -> int:
        i = bisect.bisect_right(self._decoded_at, pos) - 1
        local = pos if i < 0 else self._original_at[i] + (pos - self._decoded_at[i])
        return self.parent.original_offset(local) if self.parent is not None else local

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        return self.original_offset(start), self.original_offset(end)


def views(text: str, escapes: bool = True, base64_context: bool = True) -> Iterator[View]:
    """The text itself, then each decoded view that differs from it: JSON and URL escapes when
    `escapes`, base64 when `base64_context` (one of `BASE64_CONTEXT` occurs in the text)."""
    yield View(text, text)
    if escapes and "\\" in text:
        decoded = json_unescape(text)
        if decoded.text != text:
            yield decoded
    if escapes and "%" in text:
        subs = [(m.start(), m.end(), chr(int(m.group(1), 16))) for m in _URL_ESCAPE.finditer(text)]
        if subs:
            yield substitute(text, subs, "url")
    subs = list(_base64_texts(text)) if base64_context else []
    if subs:
        decoded = substitute(text, subs, "base64")
        yield decoded
        # a JSON document stored base64-encoded (a service-account key in a Kubernetes Secret)
        if any("\\" in replacement for _, _, replacement in subs):
            inner = json_unescape(decoded.text)
            if inner.text != decoded.text:
                inner.parent, inner.original, inner.kind = decoded, text, "base64+json"
                yield inner


def json_unescape(text: str) -> View:
    subs = [(m.start(), m.end(), chr(int(m.group(1), 16)) if m.group(1) else _SIMPLE[m.group(2)])
            for m in _JSON_ESCAPE.finditer(text)]
    return substitute(text, subs, "json")


def substitute(text: str, subs: Iterable[Substitution], kind: str) -> View:
    """A view of `text` with each (start, end) span replaced, mapping offsets back exactly outside
    the replacements and into the replaced span inside them."""
    parts: list[str] = []
    decoded_at: list[int] = []
    original_at: list[int] = []
    last = 0
    out_len = 0
    for start, end, replacement in subs:
        parts.append(text[last:start])
        out_len += start - last
        decoded_at.append(out_len)
        original_at.append(start)
        parts.append(replacement)
        out_len += len(replacement)
        decoded_at.append(out_len)
        original_at.append(end)
        last = end
    parts.append(text[last:])
    return View("".join(parts), text, kind, decoded_at, original_at)


def _base64_texts(text: str) -> Iterator[Substitution]:
    for m in _B64_TOKEN.finditer(text):
        if m.end() - m.start() > MAX_B64_TOKEN:
            continue
        decoded = decode_base64_text(m.group())
        if decoded is not None:
            yield m.start(), m.end(), decoded


def decode_base64_text(token: str) -> str | None:
    """The decoded text of a base64 token, or None when it is not base64 of printable text."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < MIN_B64_TEXT:
        return None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not all(c.isprintable() or c in "\n\r\t" for c in decoded):
        return None
    return decoded
