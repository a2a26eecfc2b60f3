"""Keyword binding, part of the structured-config pass (`scanner.manifests`): values whose
provider is named by their surroundings, not by their own line.

Takes a chunk's text and path and the engine; gives `Match`es placed at the value's own line:
- `Authorization: Bearer X` in any JSON or YAML document: a header mapping
  (`"headers": {"Authorization": "Bearer X"}`, a recorded request's `authorization: [Bearer X]`)
  or a Postman header item (`{"key": "Authorization", "value": "Bearer X"}`). X is offered to the
  rules under the host of the request it belongs to (JSON: a `url` in the same or an enclosing
  object; YAML, read line-wise and not parsed, as specs and cassettes run to megabytes: the
  nearest `url:` line), as `api.mistral.ai_api_key = "X"`, so a context-only format binds to its
  provider; else it is a declared secret named after that host (`declared.secret`).
- Call arguments in Python, JavaScript and TypeScript: `Client(api_key="X")`, `login(key="X")`,
  `new Mistral({apiKey: "X"})`, the call spread over lines. The callee is traced to the module
  the same file imports it from (`from cohere import Client`, `import openai` ... `openai.OpenAI`);
  X is offered to the rules under `<module>_<callee>_<argument>` and kept only when a rule
  matches it whole: a call argument binds to a provider's format, it never becomes a generic
  declared secret (test fixtures pass made-up keys to clients all the time).
Values the rules already matched are left to them (the caller drops covered values)."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from collections.abc import Iterable, Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from detectors.rule import Rule
from scanner.declared import declared_match
from scanner.model import Match
from scanner.parsing import json_loads

CODE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".mts", ".cts")
_BEARER = re.compile(r"^\s*(?:Bearer|Token|token)\s+(\S+)\s*$")
_HAS_BEARER = re.compile(rb"(?i)authorization[\"']?\s*[:=,]")
_BEARER_VALUE = re.compile(rb"(?:Bearer|Token|token) [A-Za-z0-9]")
_ANY_CASE_AUTH = re.compile(rb"(?i)uthorization")
_URL_KEYS = ("url", "uri", "endpoint", "base_url", "baseUrl", "baseURL", "host")
MAX_NODES = 200_000


class Scanner(Protocol):
    def scan(self, data: bytes) -> list[Match]: ...


def bindable(data: bytes, engine: Any, keywords: Iterable[int] | None = None) -> bool:
    """A blob worth this pass (run on every blob of a history scan, whose names are not known
    there): a Bearer header, or an import and a provider's name (a call argument binds only
    through a provider's name, which the file then holds: `from mistralai import Mistral`).
    `keywords`: the engine's keyword hits in `data` (`Engine.last_keywords`, just found by its
    prefilter), which hold every name that occurs and whether `uthorization` does (a keyword of
    the engine: `scanner.engine.BINDING_KEYWORD`): then most blobs are not searched again."""
    if keywords is not None:
        ids = _ids(engine)
        if not ids.names.isdisjoint(keywords) and (b"import" in data or b"require(" in data):
            return True
        return (ids.auth is None or ids.auth in keywords) and _auth_value(data)
    if _auth_value(data):
        return True
    if b"import" not in data and b"require(" not in data:
        return False
    names = _NAMES.get(engine)
    if names is None:
        names = _NAMES[engine] = _provider_names(c.rule for c in engine.rules)
    return bool(names.find_matches_as_indexes(data.lower()))


def binding_kinds(data: bytes, engine: Any, keywords: Iterable[int]) -> tuple[bool, tuple[str, ...]]:
    """For a blob read before its name is known (a history scan): whether it is `bindable`, and
    the kinds of file (`scanner.manifests`: `code`, `json-doc`) under whose name this pass may
    find something in it: a call argument needs an import, a Bearer header its header name.
    `keywords` as for `bindable` (the same test, each search done once)."""
    ids = _ids(engine)
    names = not ids.names.isdisjoint(keywords)
    header = ids.auth is None or ids.auth in keywords
    if not names and not header:  # most blobs: no byte searched
        return False, ()
    code = _imports_something(data)
    if not (names and code) and not (header and _auth_value(data)):
        return False, ()
    return True, ("code",) * code + ("json-doc",) * header


def _auth_value(data: bytes) -> bool:
    """An Authorization key in any case (the header pass reads `AUTHORIZATION` too) and a Bearer /
    Token value."""
    return ((b"Bearer " in data or b"Token " in data or b"token " in data)
            and (b"uthorization" in data or _ANY_CASE_AUTH.search(data) is not None))


@dataclass(frozen=True, slots=True)
class _Ids:
    names: frozenset[int]
    """Indexes of the engine's (lowered) keywords that `_provider_names` holds."""
    auth: int | None
    """Index of `uthorization` among them (None: an engine without it: search the bytes)."""


_NAMES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_IDS: weakref.WeakKeyDictionary[Any, _Ids] = weakref.WeakKeyDictionary()


def _ids(engine: Any) -> _Ids:
    ids = _IDS.get(engine)
    if ids is None:
        names = {k.lower().encode() for c in engine.rules for k in c.rule.keywords
                 if k.isalpha() and len(k) >= 4}
        keywords = list(engine._keywords)
        ids = _IDS[engine] = _Ids(frozenset(i for i, k in enumerate(keywords) if k in names),
                                  keywords.index(b"uthorization") if b"uthorization" in keywords else None)
    return ids


def _provider_names(rules: Iterable[Rule]) -> Any:
    """An automaton of the rules' keywords that are names (`mistral`, `cohere`), not prefixes."""
    import ahocorasick_rs

    names = sorted({k.lower().encode() for r in rules for k in r.keywords if k.isalpha() and len(k) >= 4})
    return ahocorasick_rs.BytesAhoCorasick(names or [b"\0\0\0\0"])


def has_bearer(data: bytes) -> bool:
    """Cheap test before any parsing: an Authorization key and a Bearer / Token value (both
    regexes in one Hyperscan pass that stops once both matched: `re` reads `(?i)` and an
    alternation a byte at a time, ~8x slower over megabytes of specs and cassettes)."""
    found = first_matches("bearer", _BEARER_TESTS, data, 2)
    if found is None:
        return _HAS_BEARER.search(data) is not None and _BEARER_VALUE.search(data) is not None
    return found == {0, 1}


def _imports_something(data: bytes) -> bool:
    """`b"import" in data or b"require(" in data`, in one Hyperscan pass that stops at the first:
    `bytes.find` reads ~1 GB/s, and the blobs without either (or with it late: lock files,
    notebooks) are the large ones."""
    found = first_matches("code", _CODE_TESTS, data, 1)
    if found is None:
        return b"import" in data or b"require(" in data
    return bool(found)


SPACE = rb"[\t\n\x0b\x0c\r ]"
"""`\\s` of a bytes regex, spelled out: Hyperscan reads the same bytes then."""
_BEARER_TESTS = [(rb"""authorization["']?""" + SPACE + rb"*[:=,]", "i"), (_BEARER_VALUE.pattern, "")]
"""`_HAS_BEARER` and `_BEARER_VALUE`, for Hyperscan."""
_CODE_TESTS = [(b"import", ""), (rb"require\(", "")]
_COMPILED: dict[str, Any] = {}


def first_matches(name: str, patterns: list[tuple[bytes, str]], data: bytes, enough: int) -> set[int] | None:
    """Indexes of the `patterns` ((regex, flags: `i` caseless, `m` multiline)) that match in
    `data`, in one Hyperscan pass that stops once `enough` of them did; None without Hyperscan.
    `name`: the patterns' name, under which they are compiled once per process."""
    if name not in _COMPILED:
        try:
            import hyperscan
        except ImportError:  # pragma: no cover - where no wheel exists
            _COMPILED[name] = None
            return None
        db = hyperscan.Database()
        db.compile(expressions=[p for p, _ in patterns], ids=list(range(len(patterns))),
                   elements=len(patterns),
                   flags=[hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if "i" in f else 0)
                          | (hyperscan.HS_FLAG_MULTILINE if "m" in f else 0) for _, f in patterns])
        _COMPILED[name] = (db, hyperscan.Scratch(db))
    compiled = _COMPILED[name]
    if compiled is None:
        return None
    import hyperscan

    db, scratch = compiled
    found: set[int] = set()

    def on_match(pattern: int, _from: int, _to: int, _flags: int, _ctx: object) -> bool:
        found.add(pattern)
        return len(found) >= enough

    try:
        db.scan(data, match_event_handler=on_match, scratch=scratch)
    except hyperscan.ScanTerminated:
        pass
    return found


def has_call_key(data: bytes) -> bool:
    """Cheap test before the call pass: an import, and a quoted literal of 8+ characters after
    `=` / `:` right after an argument name `call_matches` reads (`key`, `apiKey`, `token`,
    `secret` ...: every one ends in `key`, `Key`, `token`, `Token` or `secret`; spaces and one
    newline may sit between). The bytes test is looser than the text pass (no closing quote, no
    length cap: a character is 1 to 4 bytes), so it skips only texts where `call_matches` finds
    nothing."""
    return _imports_something(data) and bool(_keyed_values(data, first=True))


def call_keys(data: bytes) -> list[int]:
    """`has_call_key`, with where: the end offsets of every keyed value (`call_matches` reads
    only their lines); [] when the call pass has nothing to read (no keyed value, or no import:
    tested second, as a history scan only calls this on blobs it found an import in)."""
    ends = _keyed_values(data)
    return ends if ends and _imports_something(data) else []


_KEYED = rb"""(?:key|Key|token|Token|secret)[ \t]*\n?[=:][ \t]*["'`][^"'`\s\\]{8}"""
_NAME_ENDS = (b"key", b"Key", b"token", b"Token", b"secret")
_KEYED_HS: list[Any] = []
"""[(database, scratch)] of `_KEYED` in Hyperscan, [None] where it is not installed: built on
first use in each process."""


def _keyed_values(data: bytes, first: bool = False) -> list[int]:
    """End offsets of the matches of `_KEYED` in `data` (with `first`, only the first found)."""
    if not _KEYED_HS:
        _KEYED_HS.append(_compile_keyed())
    compiled = _KEYED_HS[0]
    if compiled is None:
        return _keyed_values_slow(data, first)
    import hyperscan

    db, scratch = compiled
    ends: list[int] = []

    def on_match(_id: int, _from: int, to: int, _flags: int, _ctx: object) -> bool:
        ends.append(to)
        return first

    try:
        db.scan(data, match_event_handler=on_match, scratch=scratch)
    except hyperscan.ScanTerminated:  # the handler stopped the scan at the first match
        pass
    return ends


def _keyed_values_slow(data: bytes, first: bool = False) -> list[int]:
    """`_keyed_values` without Hyperscan: every occurrence of a name ending (one Aho-Corasick
    pass, overlapping ones too), then the value after it."""
    ends: list[int] = []
    if _NAME_AUTOMATON is None:
        _load_names()
    for _, _, end in _NAME_AUTOMATON.find_matches_as_indexes(data, overlapping=True):
        m = _AFTER_NAME.match(data, end)
        if m is not None:
            ends.append(m.end())
            if first:
                break
    return ends


_AFTER_NAME = re.compile(rb"""[ \t]*\n?[=:][ \t]*["'`][^"'`\s\\]{8}""")
_NAME_AUTOMATON: Any = None


def _load_names() -> None:
    global _NAME_AUTOMATON
    import ahocorasick_rs

    _NAME_AUTOMATON = ahocorasick_rs.BytesAhoCorasick(list(_NAME_ENDS))


def _compile_keyed() -> tuple[Any, Any] | None:
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - where no wheel exists
        return None
    db = hyperscan.Database()
    db.compile(expressions=[_KEYED], ids=[0], elements=1, flags=[0])
    return db, hyperscan.Scratch(db)


def line_spans(data: bytes, text: str, ends: Iterable[int]) -> list[tuple[int, int]]:
    """The (start, end) in `text` (`data` decoded) of the lines holding the byte just before each
    of `ends`, in order, once each."""
    lines = set()
    for e in ends:
        stop = data.find(b"\n", e - 1)
        lines.add((data.rfind(b"\n", 0, e - 1) + 1, len(data) if stop < 0 else stop))
    if data.isascii():  # one character a byte
        return sorted(lines)
    # a line starts after a newline: decoding up to there gives the text before it, whole
    spans, done, at = [], 0, 0
    for start, stop in sorted(lines):
        at += len(data[done:start].decode("utf-8", "replace"))
        end = at + len(data[start:stop].decode("utf-8", "replace"))
        spans.append((at, end))
        done = start
    return spans


NOT_PARSED = object()
"""`header_matches`'s `doc` when the caller has not parsed the text."""


def header_matches(text: str, is_json: bool, engine: Scanner, doc: Any = NOT_PARSED) -> Iterator[Match]:
    """Bearer tokens in the header objects of a JSON / YAML document; `doc`: the JSON text
    already parsed (not twice)."""
    found: list[tuple[str, str]] = []
    if is_json:
        if doc is NOT_PARSED:
            try:
                doc = json_loads(text)
            except (ValueError, RecursionError):
                return  # malformed: the rules read the raw text anyway
        _walk(doc, "", found, [MAX_NODES])
    else:
        found = _yaml_headers(text)
    seen: set[str] = set()
    for host, token in found:
        if token in seen:
            continue
        seen.add(token)
        label = host or "http"
        m = _bound(engine, f"{label}_api_key", token) or declared_match(f"{label}_bearer_token", token)
        if m is not None:
            yield _placed(m, text, token)


_YAML_AUTH = re.compile(r"""(?i)[ \t]*(?:-[ \t]+)?["']?authorization["']?[ \t]*:[ \t]*"""
                        r"""(?:\n[ \t]*-[ \t]+)?["']?(?:Bearer|Token)[ \t]+([^\s"'#]+)""")
_YAML_URL = re.compile(r"""(?im)^[ \t]*(?:-[ \t]+)?["']?(?:url|uri|endpoint|base_?url|baseURL|host)["']?"""
                       r"""[ \t]*:[ \t]*["']?([^\s"'#]+)""")
NEAR_URL = 2000
"""How far (characters) a YAML header looks for the URL of its request, before or after."""


def _yaml_headers(text: str) -> list[tuple[str, str]]:
    """YAML without parsing it (specs and recorded cassettes run to megabytes): `authorization:`
    keys with a Bearer / Token value, inline or as the first list item; the host is the nearest
    `url:` / `uri:` / `base_url:` value."""
    found = []
    starts = set()
    at = text.find("uthorization")  # `Authorization` / `authorization`, then the whole line
    while at > 0:
        starts.add(text.rfind("\n", 0, at) + 1)
        at = text.find("uthorization", at + 12)
    for start in sorted(starts):
        m = _YAML_AUTH.match(text, start)
        if m is None:
            continue
        near = [(abs(u.start() - m.start()), _host(u.group(1)))
                for u in _YAML_URL.finditer(text, max(0, m.start() - NEAR_URL), m.end() + NEAR_URL)]
        host = min((h for h in near if h[1]), default=(0, ""))[1]
        found.append((host, m.group(1)))
    return found


def _host(url: str) -> str:
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname or ""
    except ValueError:
        return ""
    return host if "{" not in host else ""


def _walk(node: Any, host: str, found: list[tuple[str, str]], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(node, dict):
        host = _host_of(node) or host
        for key, value in node.items():
            if isinstance(key, str) and key.lower() == "authorization":
                for v in value if isinstance(value, list) else [value]:
                    _bearer(v, host, found)
        key = node.get("key", node.get("name"))
        if isinstance(key, str) and key.lower() == "authorization":  # Postman, HAR header items
            _bearer(node.get("value"), host, found)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _walk(value, host, found, budget)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                _walk(value, host, found, budget)


def _bearer(value: object, host: str, found: list[tuple[str, str]]) -> None:
    m = _BEARER.match(value) if isinstance(value, str) else None
    if m:
        found.append((host, m.group(1)))


def _host_of(node: dict[Any, Any]) -> str:
    for key in _URL_KEYS:
        url = node.get(key)
        if isinstance(url, dict):  # Postman: {"raw": "...", "host": ["api", "x", "com"]}
            raw, parts = url.get("raw"), url.get("host")
            url = raw if isinstance(raw, str) else ".".join(p for p in parts if isinstance(p, str)) \
                if isinstance(parts, list) else None
        host = _host(url) if isinstance(url, str) and url else ""
        if host:
            return host
    return ""


class _AtLineStart:
    """`re.compile("(?m)^" + body)`'s `findall`, for a body that neither starts nor ends with a
    newline: `re` tries `(?m)^` at every character (~4 ns each over megabytes of code), while a
    literal first character lets it jump from newline to newline (the first line read apart)."""

    def __init__(self, body: str) -> None:
        self.first = re.compile(body)
        self.rest = re.compile("\n" + body)

    def findall(self, text: str) -> list[Any]:
        m = self.first.match(text)
        if m is None:
            return self.rest.findall(text)
        head = m.groups("") if self.first.groups > 1 else (m.groups("") or (m.group(),))[0]
        return [head] + self.rest.findall(text, m.end())


# Python: `from x.y import A, B as C` / `import x.y as z`; JS/TS: `import D, { A as B } from "m"`,
# `import * as N from "m"`, `const { A } = require("m")`, `const N = require("m")`
_PY_FROM = _AtLineStart(r"[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)")
_PY_IMPORT = _AtLineStart(r"[ \t]*import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?"
                          r"(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)")
_JS_IMPORT = re.compile(r"""import\s+(?:type\s+)?([\w$]+\s*,?\s*)?(?:\{([^}]*)\}|\*\s+as\s+([\w$]+))?\s*from\s*["']([^"']+)["']""")
_JS_REQUIRE = re.compile(r"""(?:const|let|var)\s+(?:([\w$]+)|\{([^}]*)\})\s*=\s*require\(\s*["']([^"']+)["']\s*\)""")
# a quoted literal after `=` / `:` first (a fast scan), then the argument name just before it
_VALUE = re.compile(r"""[=:][ \t]*(["'`])([^"'`\s\\]{8,256})\1""")
_ARG = re.compile(r"""\b(api_?key|apiKey|api_?token|apiToken|key|token|auth_?token|authToken|"""
                  r"""access_?token|accessToken|secret|secret_?key|secretKey)[ \t]*$""")
_BRACKETS = re.compile(r"[()\[\]{}]")


def _imports(text: str) -> dict[str, str]:
    """Local name → the module it comes from."""
    names: dict[str, str] = {}
    for mod, what in _PY_FROM.findall(text):
        for item in what.strip("()").split(","):
            parts = item.split()
            if parts and parts[0] != "*":
                names[parts[-1]] = mod
    for clause in _PY_IMPORT.findall(text):
        for item in clause.split(","):
            parts = item.split()
            if parts:
                names[parts[-1] if len(parts) == 3 else parts[0].split(".")[0]] = parts[0]
    for default, named, star, mod in _JS_IMPORT.findall(text):
        for name in [default.strip(" ,"), star] + [p.split(" as ")[-1] for p in named.split(",")]:
            if name.strip():
                names[name.strip()] = mod
    for whole, named, mod in _JS_REQUIRE.findall(text) if "require(" in text else ():
        for name in [whole] + [p.split(":")[-1] for p in named.split(",")]:
            if name.strip():
                names[name.strip()] = mod
    return names


def _module_label(module: str) -> str:
    """`@mistralai/mistralai` → `mistralai_mistralai`; `google.genai` → `google.genai`."""
    return re.sub(r"[^\w.]+", "_", module.lstrip("@")).strip("_")


def call_matches(text: str, engine: Scanner, spans: Iterable[tuple[int, int]] | None = None
                 ) -> Iterator[Match]:
    """Keys passed as call arguments to a client the file imports. `spans`: the only lines that
    can hold one (`call_keys`); a value never spans lines, so reading a line alone finds the
    values that reading the whole text finds there."""
    imports: dict[str, str] | None = None
    values = (v for start, end in spans for v in _VALUE.finditer(text, start, end)) if spans is not None \
        else _VALUE.finditer(text)
    for v in values:
        m = _ARG.search(text, max(0, v.start() - 40), v.start())
        if m is None:
            continue
        callee = _enclosing_call(text, m.start())
        if not callee:
            continue
        if imports is None:
            imports = _imports(text)
        head = callee.split(".")[0]
        module = imports.get(head)
        if module is None:
            continue
        name = f"{_module_label(module)}_{callee.split('.')[-1]}_{m.group(1)}"
        bound = _bound(engine, name, v.group(2))
        if bound is not None:
            start = v.start(2)
            yield Match(bound.rule_id, bound.provider, bound.secret, start, start + len(bound.secret),
                        text.count("\n", 0, start) + 1, bound.captures, bound.lifetime_hint)


def _enclosing_call(text: str, pos: int, reach: int = 4000) -> str:
    """The dotted callee of the call whose argument list holds `pos` (`openai.OpenAI`), or "".
    Reads the brackets before `pos` only, nearest first (found in one regex pass over the
    reversed reach: a value at the top level of a file is read back `reach` characters)."""
    depth = 0
    stop = max(0, pos - reach)
    for b in _BRACKETS.finditer(text[stop:pos][::-1]):
        c = b.group()
        if c in ")]}":
            depth += 1
            continue
        if depth:
            depth -= 1
            continue
        i = pos - 1 - b.start()
        if c == "{":  # an options object: `new Client({apiKey: "..."})`
            i -= 1
            while i >= stop and text[i] in " \t\r\n":
                i -= 1
            if i < stop or text[i] != "(":
                return ""
        elif c != "(":
            return ""
        return _callee_before(text, i)
    return ""


_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$")


def _callee_before(text: str, end: int, reach: int = 200) -> str:
    """The dotted name that ends the `reach` characters before `end`, spaces dropped: what
    `re.search(r"([A-Za-z_$][\\w$]*(?:\\s*\\.\\s*[A-Za-z_$][\\w$]*)*)\\s*$", ...)` over them
    reads, parsed backwards (`re` tries every start and backtracks through each name: ~0.1 ms a
    call). The name ends at the last non-space; it starts at the first ASCII name start of the
    nearest run of name characters (word characters, `$`), or of the run before it past one `.`
    between spaces, and so on while each run starts with one."""
    lo = max(0, end - reach)
    last = end
    while last > lo and text[last - 1].isspace():
        last -= 1
    start = -1
    run_end = last
    while True:
        run = run_end
        while run > lo and (text[run - 1].isalnum() or text[run - 1] in "_$"):
            run -= 1
        first = next((k for k in range(run, run_end) if text[k] in _NAME_START), -1)
        if first < 0:
            break
        start = first
        if first != run:  # the run goes on before the name: nothing joins it on the left
            break
        k = run
        while k > lo and text[k - 1].isspace():
            k -= 1
        if k == lo or text[k - 1] != ".":
            break
        k -= 1
        while k > lo and text[k - 1].isspace():
            k -= 1
        run_end = k
    return re.sub(r"\s+", "", text[start:last]) if start >= 0 else ""


def _bound(engine: Scanner, name: str, value: str) -> Match | None:
    """The rule match of `value` written under `name`, when a built-in rule captures it whole
    (a user's imported rule, a generic one above all, never saw this line: it stays out)."""
    builtin = _BUILTIN.get(engine)
    if builtin is None:
        builtin = _BUILTIN[engine] = frozenset(
            c.rule.id for c in getattr(engine, "rules", []) if c.rule.origin == "sprawlscan")
    for m in engine.scan(f'{name} = "{value}"\n'.encode("utf-8", "replace")):
        if m.secret == value and m.rule_id in builtin:
            return m
    return None


_BUILTIN: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def _placed(m: Match, text: str, token: str) -> Match:
    at = max(text.find(token), 0)
    return Match(m.rule_id, m.provider, m.secret, at, at + len(m.secret), text.count("\n", 0, at) + 1,
                 m.captures, m.lifetime_hint)
