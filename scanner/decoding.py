"""Decoded views of a chunk's text, so that encodings cannot hide a secret. Takes the chunk text
(or one window of it), gives `View`s that map every offset back to the original text, so that a
match is attributed to its original line:
- `json_unescape`: JSON string escapes (`\\n`, `\\"`, `\\/`, `\\uXXXX`: notebooks, JSON configs);
- `url_unescape`: URL escapes of token characters (`%2F`, `%2B`, `%3D`...: query strings, forms);
- `base64_view`: base64 tokens decoded in place when they decode to text (Kubernetes Secret
  `data:` values, `Authorization: Basic` headers, docker `auth`, values named `*_B64`). The engine
  builds it only when one of `BASE64_CONTEXT` occurs in the chunk.
Each returns None when there is nothing to decode, so a view is only built when needed."""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


# stdlib `re` runs these simple patterns several times faster than `regex` (same matches)
_JSON_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))')
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# only characters that occur inside tokens: decoding `%40` or `%3A` would re-split URLs' userinfo
_URL_ESCAPE = re.compile(r"%(2[BbDdEeFf]|3[Dd]|5[Ff]|7[Ee])")
ESCAPE_STARTS = ("\\", "%")
"""The first character of every escape `json_unescape` and `url_unescape` decode: a text without
them decodes to nothing."""
_NEXT = {ord("\\"): frozenset(b'"\\/bfnrtu'), ord("%"): frozenset(b"2357")}
"""After an escape start, the characters that can follow it in an escape (`\\u` and `%2`: not
looked at further)."""
MAY_DECODE_TRIES = 64
"""Escape starts looked at (for each of the two) before `may_decode` gives up and says True."""


def may_decode(data: bytes) -> bool:
    """False only when `json_unescape` and `url_unescape` decode nothing in any window of `data`
    (read as latin-1): no escape start is followed by a character that can continue an escape
    (`\\d` in a regex, `%s` in a format string). A window holds an escape only where the whole
    text does. True past MAY_DECODE_TRIES starts that are not escapes."""
    for start, follow in _NEXT.items():
        i, n = data.find(start), len(data)
        for _ in range(MAY_DECODE_TRIES):
            if i < 0:
                break
            if i + 1 < n and data[i + 1] in follow:
                return True
            i = data.find(start, i + 1)
        else:
            if i >= 0:
                return True
    return False
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
BASE64_CONTEXT = ("authorization: basic", '"authorization": "basic', "'authorization': 'basic",
                  "\ndata:", "kind: secret", "dockerconfig", '"auth":', "_b64=", "_b64:", '_b64":',
                  "_base64=", "_base64:", '_base64":')
"""Case-insensitive literals of which one must occur for the base64 view to be built: Kubernetes
Secret `data:` (a top-level key), `Authorization: Basic` headers, docker `"auth":`, values named
`*_B64` / `*_BASE64`. Bare words like `base64` are not enough: code that imports `base64` is
everywhere, and decoding every chunk would cost ten times the rest of the scan. The engine puts
these literals in its keyword prefilter, so the gate costs nothing extra."""

Substitution = tuple[int, int, str]
"""(start, end, replacement) in the text being decoded."""


@dataclass(slots=True)
class View:
    """A text to run rules over, and how its offsets map back to the original text."""

    text: str
    """The decoded text of the window."""
    base: int = 0
    """Offset of the window in the text it decodes."""
    _decoded_at: list[int] = field(default_factory=list)
    _original_at: list[int] = field(default_factory=list)
    parent: View | None = None
    """The view this one decodes (escapes inside decoded base64), or None for the original text."""
    _escapes: tuple[re.Pattern[str], str] | None = None
    """(escape pattern, window) of a view whose every escape became one character: the offset
    map is worked out from them on the first `original_offset` (most views never map a match)."""

    def original_offset(self, pos: int) -> int:
        if self._escapes is not None:
            self._map_escapes()
        i = bisect.bisect_right(self._decoded_at, pos) - 1
        local = self.base + pos if i < 0 else self.base + self._original_at[i] + (pos - self._decoded_at[i])
        return self.parent.original_offset(local) if self.parent is not None else local

    def _map_escapes(self) -> None:
        """The offset map `substitute` would have built for one-character replacements."""
        assert self._escapes is not None
        pattern, window = self._escapes
        self._escapes = None
        decoded_at, original_at = self._decoded_at, self._original_at
        shrink = 0
        for m in pattern.finditer(window):
            s, e = m.span()
            decoded_at.append(s - shrink)
            original_at.append(s)
            shrink += e - s - 1
            decoded_at.append(e - shrink)
            original_at.append(e)


def json_unescape(text: str, start: int = 0, end: int | None = None) -> View | None:
    """The window `text[start:end]` with JSON string escapes decoded, or None if it has none."""
    end = len(text) if end is None else end
    if text.find("\\", start, end) < 0:
        return None
    return _unescaped(_JSON_ESCAPE, _json_char, text[start:end], start)


def url_unescape(text: str, start: int = 0, end: int | None = None) -> View | None:
    """The window with URL escapes of token characters decoded, or None if it has none."""
    end = len(text) if end is None else end
    if text.find("%", start, end) < 0:
        return None
    return _unescaped(_URL_ESCAPE, _url_char, text[start:end], start)


def _json_char(m: re.Match[str]) -> str:
    simple = m.group(2)
    return _SIMPLE[simple] if simple else chr(int(m.group(1), 16))


def _url_char(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16))


def _unescaped(pattern: re.Pattern[str], char: Callable[[re.Match[str]], str], window: str,
               base: int) -> View | None:
    """`window` with each match of `pattern` replaced by the one character `char` gives, or
    None when nothing matches. The same view as `substitute` over the matches, built in one C
    pass; its offset map waits for a match to map."""
    decoded, n = pattern.subn(char, window)
    return View(decoded, base, _escapes=(pattern, window)) if n else None


def base64_view(text: str, regions: Iterable[tuple[int, int]] | None = None) -> View | None:
    """The whole text with every base64 token that decodes to ASCII text replaced by that text
    (only tokens starting inside `regions`, when given), or None when there is none."""
    spans = [(0, len(text))] if regions is None else regions
    subs = [sub for a, b in spans for sub in _base64_texts(text, a, b)]
    return substitute(text, subs) if subs else None


def substitute(window: str, subs: Iterable[Substitution], base: int = 0) -> View:
    """A view of `window` (at `base` in its text) with each (start, end) span replaced, mapping
    offsets back exactly outside the replacements and into the replaced span inside them."""
    parts: list[str] = []
    decoded_at: list[int] = []
    original_at: list[int] = []
    last = 0
    out_len = 0
    for start, end, replacement in subs:
        parts.append(window[last:start])
        out_len += start - last
        decoded_at.append(out_len)
        original_at.append(start)
        parts.append(replacement)
        out_len += len(replacement)
        decoded_at.append(out_len)
        original_at.append(end)
        last = end
    parts.append(window[last:])
    return View("".join(parts), base, decoded_at, original_at)


def _base64_texts(text: str, start: int = 0, end: int | None = None) -> Iterator[Substitution]:
    """Tokens that start in [start, end); a token may run past `end`."""
    last = len(text) if end is None else end
    pos = start
    while (m := _B64_TOKEN.search(text, pos, last)) is not None:
        if m.end() == last and last < len(text):
            # cut by the region's end: read the whole token (or nothing, if it is not one)
            m = _B64_TOKEN.match(text, m.start())
            if m is None:
                break
        pos = m.end()
        if m.end() - m.start() > MAX_B64_TOKEN:
            continue
        decoded = decode_base64_text(m.group())
        if decoded is not None:
            yield m.start(), m.end(), decoded


def decode_base64_text(token: str) -> str | None:
    """The decoded text of a base64 token, or None when it is not base64 of printable ASCII."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < MIN_B64_TEXT or not raw.isascii():
        return None
    decoded = raw.decode("ascii")
    if not all(c.isprintable() or c in "\n\r\t" for c in decoded):
        return None
    return decoded
