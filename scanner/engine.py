"""The detection stage: rules → matches. Takes chunk bytes, gives `Match` records.

Two steps per chunk. The prefilter finds where rules can match at all: every rule names keywords,
and a rule runs only around the occurrences of one of them (case-insensitive). Two backends find
them in a single pass: `hyperscan` (Hyperscan databases, `scanner.gates`; a regular dependency where
wheels exist) and `regex` (an Aho-Corasick automaton from `ahocorasick-rs` over the lowered chunk,
everywhere). `$SPRAWLSCAN_ENGINE` forces one; by default Hyperscan when it imports. Both give the
same occurrences, so the same findings (tests/test_engine_equivalence.py proves it on the whole
labelled corpus). Then each candidate rule's regex (the `regex` module) runs over the windows
around its keyword occurrences, raw and decoded (JSON string escapes, URL escapes), and validators
filter the captures; with Hyperscan, a rule whose gate (its own pattern, approximated from
above: `scanner.gates`) does not fire in a text is skipped there, most keyword occurrences being
no secret. Base64 hides keywords, so it is handled per chunk: when a base64 context
literal (`data:` of a Kubernetes Secret, `Authorization`...; `scanner.decoding.BASE64_CONTEXT`,
part of the same prefilter) occurs, the chunk's base64 tokens that decode to text are decoded in
place and that view gets its own prefilter pass and windows. Every match is attributed to its
original line. Rules without keywords (imported gitleaks rules) run over the whole chunk.
User rules (`--rules`, imported gitleaks rules, rules a repository's `sprawlscan.toml` names) run
with a time limit per regex run (`rule_timeout`): a rule that exceeds it is dropped for the rest
of that chunk and named in `timeouts` (drained by the caller into the scan's warnings). The
built-in catalogue runs without one: its patterns are tested data and the limit's bookkeeping
would cost every window of every scan.
The engine never prints or exits."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import regex

from detectors.allowlist import text_verdict
from detectors.rule import Rule
from detectors.validators import VALIDATORS, is_placeholder, shannon_entropy
from scanner.decoding import (BASE64_CONTEXT, ESCAPE_STARTS, View, base64_view, json_unescape,
                              may_decode, url_unescape)
from scanner.model import Match

from scanner.errors import ConfigError
from scanner.gates import SLOW_GATES, Database

_hs: Any
try:  # the fast path is optional: same results without it
    import hyperscan as _hs
except ImportError:  # pragma: no cover - exercised where hyperscan is absent
    _hs = None

BACKENDS = ("hyperscan", "regex")
ENGINE_ENV = "SPRAWLSCAN_ENGINE"


def select_backend(requested: str | None = None) -> str:
    """The prefilter backend: `requested`, else `$SPRAWLSCAN_ENGINE`, else `hyperscan` when the
    package imports, else `regex`. An unknown name, or `hyperscan` where it is not installed, is
    a configuration error."""
    name = (requested or os.environ.get(ENGINE_ENV, "")).strip().lower()
    if not name:
        return "hyperscan" if _hs is not None else "regex"
    if name not in BACKENDS:
        raise ConfigError(f"{ENGINE_ENV}={name!r}: expected one of {', '.join(BACKENDS)}")
    if name == "hyperscan" and _hs is None:
        raise ConfigError(f"{ENGINE_ENV}=hyperscan but the hyperscan package is not installed "
                          "(pip install hyperscan)")
    return name

RULE_TIMEOUT_ENV = "SPRAWLSCAN_RULE_TIMEOUT"
RULE_TIMEOUT = 1.0
"""Seconds a user rule's regex may run over one window, plus one more per MiB of the window."""


def rule_timeout() -> float:
    """`$SPRAWLSCAN_RULE_TIMEOUT` (seconds, over 0), else RULE_TIMEOUT."""
    raw = os.environ.get(RULE_TIMEOUT_ENV, "").strip()
    if not raw:
        return RULE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{RULE_TIMEOUT_ENV}={raw!r}: expected a number of seconds above 0")
    return value


def _builtin_dir() -> str:
    from importlib import resources

    return str(resources.files("detectors") / "rules")


ALLOW_MARKER = "sprawlscan:allow"
BINDING_KEYWORD = "uthorization"
"""A keyword no rule names: the binding pass (`scanner.bindings.bindable`) reads from the hits
whether a blob holds an `Authorization` header instead of searching every blob again."""
Out = dict[tuple[str, str, int], Match]


class CompiledRule:
    """A rule with what the engine derives from it. The regex is compiled on first use: a scan
    of a few files compiles only the rules whose keywords occur (start-up stays short)."""

    __slots__ = ("rule", "group", "multiline", "timeout", "_regex", "_reach")

    def __init__(self, rule: Rule, timeout: float | None = None) -> None:
        self.rule = rule
        self.timeout = timeout
        """Seconds per regex run (plus one per MiB searched); None: no limit (the catalogue)."""
        self.group: int | str = _secret_group(rule)
        self.multiline = _multiline(rule)
        """The pattern can cross a newline (PEM blocks, JSON documents): decode further around it."""
        self._regex: regex.Pattern[str] | None = None
        self._reach: int | None | bool = False

    @property
    def reach(self) -> int | None:
        """How far around a keyword occurrence the rule's matches lie (`scanner.reach`); None:
        not bounded, the line-wide window. Worked out on first use, as the regex."""
        if self._reach is False:
            from scanner.reach import reach

            self._reach = reach(self.rule.pattern, self.rule.keywords)
        return None if self._reach is False else self._reach

    @property
    def regex(self) -> regex.Pattern[str]:
        if self._regex is None:
            self._regex = regex.compile(self.rule.pattern)
        return self._regex

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Iterator[Any]:
        """The rule's matches in text[pos:endpos]; raises TimeoutError past the rule's limit."""
        end = len(text) if endpos is None else endpos
        if self.timeout is None:
            return self.regex.finditer(text, pos, end)
        return self.regex.finditer(text, pos, end,
                                   timeout=self.timeout * (1 + max(0, end - pos) / (1 << 20)))


class Engine:
    """Compiles the rules once; `scan(data)` is safe to call from one thread at a time."""

    def __init__(self, rules: Iterable[Rule], *, use_hyperscan: bool | None = None,
                 backend: str | None = None) -> None:
        rules = list(rules)
        builtin = _builtin_dir()
        limit = rule_timeout() if any(not _is_builtin(r, builtin) for r in rules) else None
        self.rules = [CompiledRule(r, None if _is_builtin(r, builtin) else limit) for r in rules]
        self.timeouts: set[str] = set()
        """Ids of rules that ran out of time since the caller last took them (`take_timeouts`)."""
        self._chunk_timeouts: set[str] = set()
        self.last_keywords: Iterable[int] = ()
        """Indexes of the keywords the last `scan` found (`scanner.bindings.bindable` reads them)."""
        gates = {k.lower() for k in BASE64_CONTEXT}
        keywords = sorted({k.lower() for c in self.rules for k in c.rule.keywords} | gates
                          | {BINDING_KEYWORD})
        self._keywords = [k.encode("utf-8") for k in keywords]
        self._lengths = [len(k) for k in self._keywords]
        kw_index = {k: i for i, k in enumerate(keywords)}
        self._rules_by_kw: list[list[int]] = [[] for _ in keywords]
        for ri, c in enumerate(self.rules):
            for k in {k.lower() for k in c.rule.keywords}:
                self._rules_by_kw[kw_index[k]].append(ri)
        self._gate_ids = frozenset(kw_index[k] for k in gates)
        # a top-level `data:` is base64 only in a Kubernetes Secret (SSE streams say `data:` too)
        self._data_gate, self._secret_kind = kw_index["\ndata:"], kw_index["kind: secret"]
        self._block_gates = frozenset((self._data_gate, self._secret_kind, kw_index["dockerconfig"]))
        # rules without keywords (imported gitleaks rules may have none) run on every chunk
        self._always = [ri for ri, c in enumerate(self.rules) if not c.rule.keywords]
        if use_hyperscan is not None:
            backend = "hyperscan" if use_hyperscan else "regex"
        self.backend = select_backend(backend)
        use_hs = self.backend == "hyperscan"
        self._hs_db: Database | None = None
        if use_hs and self._keywords:
            self._hs_db = Database(_hs, self._keywords, [
                None if c.rule.id in SLOW_GATES and _is_builtin(c.rule, builtin) else c.rule.pattern
                for c in self.rules], self._rules_by_kw, self._gate_ids)
        self._gated: frozenset[int] = self._hs_db.gated if self._hs_db is not None else frozenset()
        """Rules with a gate (`scanner.gates`): skipped where it does not fire."""
        self._automaton = None if use_hs else self._compile_automaton()

    def _compile_automaton(self) -> Any:
        """One Aho-Corasick automaton over the (lowered) keywords."""
        import ahocorasick_rs

        return (ahocorasick_rs.BytesAhoCorasick(self._keywords, implementation=ahocorasick_rs.Implementation.DFA)
                if self._keywords else None)

    def keyword_hits(self, data: bytes) -> dict[int, list[int]]:
        """keyword index → sorted start offsets of every occurrence in `data` (case-insensitive).
        Both backends return exactly the same offsets."""
        return self._prefilter(data, every=True)[0]

    def _prefilter(self, data: bytes, every: bool = False, plain: bool | None = None
                   ) -> tuple[dict[int, list[int]], set[int] | None]:
        """`keyword_hits`, and the rules whose gate fired (None: no gates, every rule may run).
        Unless `every`, a keyword all of whose rules are gated and did not fire may be given by
        its first offset only, in a text with nothing to decode (`scanner.gates.Database`): no
        rule of it runs there, and no escape is decoded around it. `plain`: whether `data` has
        nothing to decode (`scanner.decoding.may_decode`; None: look)."""
        if self._hs_db is not None:
            if plain is None:
                plain = not may_decode(data)
            return self._hs_db.scan(data, self._lengths, plain and not every)
        hits: dict[int, list[int]] = {}
        if self._automaton is not None and self._keywords:
            # ASCII-only lowering, as Hyperscan's caseless mode; offsets come in end order, which
            # is start order for one keyword
            for kw_id, start, _end in self._automaton.find_matches_as_indexes(data.lower(),
                                                                               overlapping=True):
                hits.setdefault(kw_id, []).append(start)
        return hits, None

    def _idle(self, hits: dict[int, list[int]], fired: set[int]) -> bool:
        """No base64 context occurs and no rule of a keyword that does can run (each has a gate,
        and it did not fire)."""
        if not self._gate_ids.isdisjoint(hits):
            return False
        gated = self._gated
        for kw in hits:
            for ri in self._rules_by_kw[kw]:
                if ri in fired or ri not in gated:
                    return False
        return True

    def _runs(self, ri: int, fired: set[int] | None) -> bool:
        """Whether rule `ri` can match in a text whose gates `fired`."""
        return fired is None or ri in fired or ri not in self._gated

    def _fired(self, text: str) -> set[int] | None:
        """The gates that fire in a decoded text (None: no gates, or text Hyperscan cannot read
        as the rules see it)."""
        if self._hs_db is None:
            return None
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:  # a JSON `\u` escape past U+00FF: run every rule
            return None
        return self._hs_db.fired(data, self._lengths)

    def candidate_rules(self, data: bytes) -> list[int]:
        """Indexes of rules whose keywords occur in `data` (and keyword-less rules), sorted."""
        return sorted({ri for kw in self.keyword_hits(data) for ri in self._rules_by_kw[kw]}
                      | set(self._always))

    def scan(self, data: bytes) -> list[Match]:
        """All matches in one chunk, deduplicated by (rule, secret, line), in text order.

        Rules run only over windows around their keywords' occurrences (whole lines, from
        WINDOW_BEFORE before to WINDOW_AFTER after): a rule's keyword must lie inside or just
        before its match, which every rule's examples prove. A rule with a reach
        (`scanner.reach`: every match holds a keyword and spans at most N chars with what its
        lookarounds read) gets N on each side instead, the same matches on long lines for far
        less regex work. Past MAX_OCCURRENCES a rule runs over the whole chunk."""
        plain = not may_decode(data)
        hits, fired = self._prefilter(data, plain=plain)
        self.last_keywords = hits.keys()
        if not hits and not self._always:
            return []
        if plain and fired is not None and not self._always and self._idle(hits, fired):
            return []  # most chunks: no rule can run, nothing to decode, no base64 context
        self._chunk_timeouts = set()
        try:
            return self._scan(data, hits, fired, plain)
        finally:
            self.timeouts |= self._chunk_timeouts

    def take_timeouts(self) -> list[str]:
        """Ids of the rules that ran out of time since the last call (each chunk's caller takes
        them and names the chunk in the scan's warnings)."""
        out, self.timeouts = sorted(self.timeouts), set()
        return out

    def _scan(self, data: bytes, hits: dict[int, list[int]], fired: set[int] | None,
              plain: bool = False) -> list[Match]:
        # latin-1 maps each byte to one char: byte offsets are text offsets, nothing is lost
        text = data.decode("latin-1")
        out: Out = {}
        lines = Lines(text)
        self._scan_view(View(text), lines, hits, fired, out, nested=False, plain=plain)
        gate_ids = set(self._gate_ids.intersection(hits))
        if self._secret_kind not in hits:
            gate_ids.discard(self._data_gate)
        # base64 values follow their context literal: a Secret's `data:` block holds many, a
        # Basic header or a `*_B64` name one
        gates = sorted((off, BASE64_AFTER if kw in self._block_gates else BASE64_AFTER_VALUE)
                       for kw in gate_ids for off in hits[kw])
        if gates:
            regions: list[tuple[int, int]] = []
            for off, after in gates:
                if regions and off <= regions[-1][1]:
                    regions[-1] = (regions[-1][0], max(regions[-1][1], off + after))
                else:
                    regions.append((off, off + after))
            decoded = base64_view(text, regions)
            if decoded is not None:
                inner = decoded.text.encode("latin-1")
                inner_plain = not may_decode(inner)
                self._scan_view(decoded, lines, *self._prefilter(inner, plain=inner_plain), out,
                                nested=True, plain=inner_plain)
        found: Iterable[Match] = out.values()
        if out and "-----BEGIN " in text:
            found = _outside_armour(text, found)
        return sorted(found, key=lambda m: (m.line, m.start, m.rule_id))

    def _scan_view(self, view: View, original: Lines, hits: dict[int, list[int]],
                   fired: set[int] | None, out: Out, nested: bool, plain: bool = False) -> None:
        """Run the rules hit in `view` over their windows, raw and with escapes decoded; `nested`
        views (decoded base64) map back through `view` to the original text. A rule whose gate
        did not fire (`fired`) is skipped in the raw view; each decoded region has its own.
        `plain`: the caller knows the view has nothing to decode (`may_decode`)."""
        by_rule: dict[int, list[int]] = {}
        for kw, offsets in hits.items():
            for ri in self._rules_by_kw[kw]:
                by_rule.setdefault(ri, []).extend(offsets)
        spans_of = {ri: windows(view.text, sorted(set(offsets)), self.rules[ri].reach)
                    for ri, offsets in by_rule.items() if self._runs(ri, fired)}
        for ri in self._always:
            if self._runs(ri, fired):
                spans_of[ri] = [(0, len(view.text))]
        for ri in sorted(spans_of):
            for ws, we in spans_of[ri]:
                for m in self._matches(self.rules[ri], view, original, ws, we):
                    out.setdefault((m.rule_id, m.secret, m.line), m)
        if plain or ("\\" not in view.text and "%" not in view.text):
            return
        # escapes leave keywords readable: decode small regions around every keyword occurrence
        # once, and run each rule over the decoded regions that hold one of its occurrences
        multi = [ri for ri in by_rule if self.rules[ri].multiline]
        classes = [(DECODE_AFTER, [ri for ri in by_rule if not self.rules[ri].multiline]),
                   (DECODE_AFTER_MULTILINE, multi)]
        decoded: list[tuple[int, int, View]] = []
        for after, rule_ids in classes:
            if not rule_ids:
                continue
            occurrences = sorted(set().union(*[by_rule[ri] for ri in rule_ids]))
            views_of = [(ws, we, d) for ws, we in decode_regions(view.text, occurrences, after,
                                                                 ESCAPE_STARTS)
                        for d in (json_unescape(view.text, ws, we), url_unescape(view.text, ws, we))
                        if d is not None]
            if not views_of:  # no escape decoded near these rules' keywords: nothing to gate or run
                continue
            for ws, we, d in views_of:
                if nested:
                    d.parent = view
            decoded.extend(views_of)
            gates = [self._fired(d.text) if self._gated else None for _, _, d in views_of]
            for ri in sorted(rule_ids):
                offsets = sorted(by_rule[ri])
                for (ws, we, d), d_fired in zip(views_of, gates):
                    i = bisect.bisect_left(offsets, ws)
                    if i < len(offsets) and offsets[i] < we and self._runs(ri, d_fired):
                        for m in self._matches(self.rules[ri], d, original, 0, len(d.text)):
                            out.setdefault((m.rule_id, m.secret, m.line), m)
        for ri in self._always:
            for ws, we, d in decoded:
                for m in self._matches(self.rules[ri], d, original, 0, len(d.text)):
                    out.setdefault((m.rule_id, m.secret, m.line), m)

    def refuses(self, value: str) -> bool:
        """True when a rule knows the shape of `value` (its pattern captures exactly the whole
        value) but refuses it on the value's own merits (checksum, marker, placeholder, entropy):
        a GitHub-shaped token with a wrong checksum is no secret under any name. Proximity
        validators are skipped: a lone value has no surroundings."""
        for ri in self.candidate_rules(value.encode("utf-8", "surrogatepass")):
            c = self.rules[ri]
            try:
                for m in c.finditer(value):
                    if m.group(c.group) == value and not accept(c.rule, value, value, proximity=False):
                        return True
            except TimeoutError:
                self.timeouts.add(c.rule.id)
        return False

    def _matches(self, c: CompiledRule, view: View, original: Lines, pos: int, endpos: int
                 ) -> Iterator[Match]:
        rule = c.rule
        if rule.id in self._chunk_timeouts:
            return
        found = c.finditer(view.text, pos, endpos)
        while True:
            try:
                m = next(found)
            except StopIteration:
                return
            except TimeoutError:  # dropped for the rest of this chunk, named by the caller
                self._chunk_timeouts.add(rule.id)
                return
            secret = m.group(c.group)
            if not secret:
                continue
            secret = _as_utf8(secret)
            s, e = m.span(c.group)
            if not accept(rule, secret, view.text[max(0, s - 200): e + 200]):
                continue
            start, end = view.original_offset(s), view.original_offset(e)
            if original.allowed(start, end):
                continue
            pending: tuple[int, ...] | None = ()
            if rule.allowlists:  # an imported gitleaks rule's allowlists: what the text decides
                pending = text_verdict(rule, secret, m.group(0), original.line_text(start, end))
                if pending is None:
                    continue
            captures = tuple(sorted(
                (k, _as_utf8(v)) for k, v in m.groupdict().items() if v and k != "secret"))
            yield Match(rule.id, rule.provider, secret, start, end,
                        original.line(start), captures, rule.lifetime_hint, pending or ())


class Lines:
    """A chunk's text with its newline offsets computed once, on the first match: a match's line
    number is a bisect, not a count from the start (many secrets in one big file stay linear),
    and a chunk without a match never pays for them (most chunks with a keyword have none)."""

    __slots__ = ("text", "_lines", "_marked")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[int] | None = None
        self._marked: bool | None = None

    @property
    def _newlines(self) -> list[int]:
        if self._lines is None:
            self._lines = [m.start() for m in _NEWLINE.finditer(self.text)]
        return self._lines

    def line(self, offset: int) -> int:
        """1-based line of `offset`."""
        return bisect.bisect_left(self._newlines, offset) + 1

    def allowed(self, start: int, end: int) -> bool:
        """The lines from `start` to `end` carry the `sprawlscan:allow` marker."""
        if self._marked is None:  # searched on the first match only: most chunks have none
            self._marked = ALLOW_MARKER in self.text
        return self._marked and ALLOW_MARKER in self.line_text(start, end)

    def line_text(self, start: int, end: int) -> str:
        """The whole lines from `start` to `end`."""
        nl = self._newlines
        first, last = bisect.bisect_left(nl, start), bisect.bisect_left(nl, end)
        line_start = nl[first - 1] + 1 if first else 0
        line_end = nl[last] if last < len(nl) else len(self.text)
        return self.text[line_start:line_end]


_ARMOUR = regex.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----[A-Za-z0-9+/=\s:,.\\-]{16,65536}?"
                        r"-----END \1-----")
"""A PEM / OpenSSH / PGP armoured block (JSON-escaped newlines included)."""
ARMOUR_REACH = 65536


def _outside_armour(text: str, found: Iterable[Match]) -> list[Match]:
    """`found` without the matches lying inside an armoured block's body. A key or certificate
    body is base64: now and then a run of it has a token's shape (`/EAAA` + 60 chars is a Square
    token's), and it is part of the block, not a second credential. A match that is the block
    itself (starting at its `-----BEGIN`) stays. Only the block a match may sit in is read (the
    last `-----BEGIN ` before it, at most ARMOUR_REACH back): bounded work on any input."""
    keep = []
    for m in found:
        begin = text.rfind("-----BEGIN ", max(0, m.start - ARMOUR_REACH), m.start)
        block = _ARMOUR.match(text, begin) if begin >= 0 else None
        if block is not None and block.start() < m.start and m.end <= block.end():
            continue
        keep.append(m)
    return keep


_NEWLINE = regex.compile("\n")
WINDOW_BEFORE = 512
WINDOW_AFTER = 8192
MAX_OCCURRENCES = 4096


BASE64_AFTER = 16384
"""Base64 tokens are decoded up to this far after a block's context literal (`data:`)..."""
BASE64_AFTER_VALUE = 1024
"""... and this far after a single value's (`Authorization: Basic`, `FOO_B64=`)."""
DECODE_BEFORE = 256
DECODE_AFTER = 1024
"""Escapes are decoded this far after a keyword; multi-line rules (PEM blocks, service-account
JSON: a pattern that can cross a newline) get DECODE_AFTER_MULTILINE."""
DECODE_AFTER_MULTILINE = 8192
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.~"
"""Characters that can be part of a token: a region never starts right after one of them."""


def decode_regions(text: str, offsets: list[int], after: int, holding: tuple[str, ...] = ()
                   ) -> list[tuple[int, int]]:
    """Merged [start, end) spans around keyword offsets where escapes get decoded: from a little
    before (moved back to the start of the token it cuts) to `after` chars after. Every region is
    decoded once, whatever number of rules share it. Past MAX_OCCURRENCES: the whole text.
    With `holding`, only the regions in which one of those characters occurs (ESCAPE_STARTS: the
    others decode to nothing); the start moves back over token characters only, none of them one
    of those, so the merged span tells."""
    if len(offsets) > MAX_OCCURRENCES:
        return [(0, len(text))]
    merged: list[tuple[int, int]] = []
    n = len(text)
    if offsets:  # offsets are sorted: a span ends at its last offset + `after`
        first = last = offsets[0]
        for off in offsets:
            if off - DECODE_BEFORE > last + after:
                merged.append((max(0, first - DECODE_BEFORE), min(n, last + after)))
                first = off
            last = off
        merged.append((max(0, first - DECODE_BEFORE), min(n, last + after)))
    out: list[tuple[int, int]] = []
    for a, b in merged:
        if holding:
            for c in holding:
                if text.find(c, a, b) >= 0:
                    break
            else:
                continue
        # never start inside a token: a cut token would match as a shorter one. The start moves
        # to just after the last non-token character of the DECODE_BEFORE before it (else back
        # by all of them); stripping the token characters finds it in one C call
        lo = max(0, a - DECODE_BEFORE)
        out.append((lo + len(text[lo:a].rstrip(_TOKEN_CHARS)), b))
    return out


def windows(text: str, offsets: list[int], reach: int | None = None) -> list[tuple[int, int]]:
    """Merged [start, end) spans of whole lines around each offset; with a rule's `reach`
    (`scanner.reach`: its every match holds a keyword and lies within `reach` of it), each span
    is cut to `reach` on either side of its offset, which finds the same matches."""
    if reach is not None:
        return _reach_windows(text, offsets, reach)
    if len(offsets) > MAX_OCCURRENCES:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    for off in offsets:
        if spans and off - WINDOW_BEFORE <= spans[-1][1]:
            start = spans[-1][0]
        else:
            start = text.rfind("\n", 0, max(0, off - WINDOW_BEFORE)) + 1
        end = text.find("\n", min(len(text), off + WINDOW_AFTER))
        end = len(text) if end < 0 else end
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


REACH_DENSITY = 64
"""Past one keyword occurrence per this many characters, a bounded rule runs over the whole text
(one regex run beats thousands of tiny ones; the matches are the same)."""


def _reach_windows(text: str, offsets: list[int], reach: int) -> list[tuple[int, int]]:
    """`windows` for a rule with a reach: the line-wide span of each offset cut to `reach` on
    either side (never wider than the line-wide one: the same matches, as a subset)."""
    n = len(text)
    if len(offsets) * REACH_DENSITY > n:
        return [(0, n)] if len(offsets) > MAX_OCCURRENCES else windows(text, offsets)
    if not offsets:
        return []
    if reach <= WINDOW_BEFORE:  # no line edge can cut a span: spans merge where gaps are short
        out: list[tuple[int, int]] = []
        first = prev = offsets[0]
        for off in offsets:
            if off - prev > 2 * reach:
                out.append((max(0, first - reach), min(n, prev + reach)))
                first = off
            prev = off
        out.append((max(0, first - reach), min(n, prev + reach)))
        return out
    spans: list[list[int]] = []
    for off in offsets:
        start, end = max(0, off - reach), min(n, off + reach)
        if reach > WINDOW_BEFORE:
            start = max(start, text.rfind("\n", 0, max(0, off - WINDOW_BEFORE)) + 1)
        if reach > WINDOW_AFTER:
            line_end = text.find("\n", min(n, off + WINDOW_AFTER))
            end = min(end, n if line_end < 0 else line_end)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(end, spans[-1][1])
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]


def _is_builtin(rule: Rule, builtin_dir: str) -> bool:
    """The rule comes from the shipped catalogue (tested data, run without a time limit)."""
    return rule.origin == "sprawlscan" and os.path.dirname(rule.source_file) == builtin_dir


def _as_utf8(s: str) -> str:
    """Text decoded as latin-1 back to what the bytes say in UTF-8 (secrets are mostly ASCII)."""
    if s.isascii():
        return s
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def accept(rule: Rule, secret: str, context: str, *, proximity: bool = True) -> bool:
    """The false-positive filters every rule gets: placeholders, entropy floor, validators
    (without `proximity`, the keyword-proximity validator is not applied)."""
    if is_placeholder(secret, runs=not rule.allow_runs):
        return False
    if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
        return False
    return all(VALIDATORS[name](secret, context, rule.keywords) for name in rule.validators
               if proximity or name != "keyword_near")


_BOUND = regex.compile(r"\{\d+,(\d*)\}")


def _multiline(rule: Rule) -> bool:
    """The rule's match can run long (dot-all, an unbounded or 512+ repeat): decode further."""
    bounds = _BOUND.findall(rule.pattern)
    return "(?s" in rule.pattern or any(b == "" or int(b) >= 512 for b in bounds)


_NAMED_SECRET = regex.compile(r"\(\?P?<secret>")


def _secret_group(rule: Rule) -> int | str:
    if rule.secret_group is not None:
        return rule.secret_group
    if rule.origin == "sprawlscan":  # the loader checked: a group `secret`, else exactly one
        return "secret" if _NAMED_SECRET.search(rule.pattern) else 1
    compiled = regex.compile(rule.pattern)
    if "secret" in compiled.groupindex:
        return "secret"
    return 1 if compiled.groups else 0
