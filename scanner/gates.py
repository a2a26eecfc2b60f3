"""Part of the detection stage: the Hyperscan database of the fast path, keywords and gates
(compiled twice: with every keyword occurrence, and `lean`, see `Database`).

The engine's keywords say where a rule may match; most keyword occurrences are not secrets (`ado`,
`0.`, `EAAA`), and running a rule's regex around each of them was most of a history scan's time.
So the database also holds one *gate* per rule: the rule's pattern compiled in Hyperscan's
prefilter mode, which matches a superset of what the pattern matches. To keep it a superset of
what the `regex` module matches on latin-1 decoded text, the pattern is rewritten first: `\\w`
and `\\s` are widened to the non-ASCII word and space characters latin-1 holds, anchors and word
boundaries are dropped (the engine runs rules over windows, where they mean other things), and a
pattern using any construct outside a short list that both engines read alike (ASCII literals,
classes, groups, lookarounds, `i`/`s` flags, counted repeats) gets no gate: its rule runs as
before. A gate is reported at most once per scanned text. A rule whose gate does not fire in a
text cannot match there, so the engine skips its regex over that text; findings are the same
with and without gates (tests/test_engine_equivalence.py). Compiled databases are cached by
`detectors.cache` (compiling takes about a second), under a key made of the rules' own patterns
and this module's source, so that a start-up with a warm cache rewrites no pattern."""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import regex

_ESCAPES = frozenset("wsdWSDbBAZz.-\\()[]{}+*?|/\"'$^nrtfvx#&~!@%,:;<>=_` ")
"""Escapes that mean the same to both engines once rewritten (`\\x` takes two hex digits)."""
_GROUP = regex.compile(r"\(\?(?::|P?<[A-Za-z_]\w*>|=|!|<=|<!|[is]+\)|[is]*(?:-[is]+)?:)")
_GROUP_FLAGS = regex.compile(r"\(\?[is]+\)")
_HEX2 = regex.compile(r"[0-9A-Fa-f]{2}")


_LEAD = regex.compile(r"\(\?<!\[(?!\^)((?:\\.|[^\]\\\[])+)\]\)")
_TRAIL = regex.compile(r"\(\?!\[(?!\^)((?:\\.|[^\]\\\[])+)\]\)$")


def gate_pattern(pattern: str) -> bytes | None:
    """`pattern` rewritten for Hyperscan's prefilter mode so that it matches at least what the
    `regex` module matches on latin-1 text, or None when it uses a construct this does not
    translate (then the rule gets no gate).

    Prefilter mode drops lookarounds, and most token rules are a token between two one-character
    guards (`(?<![A-Za-z0-9_])EAAA...(?![A-Za-z0-9_])`): without them, any long base64 run holds
    a candidate. So a leading negative lookbehind and a trailing negative lookahead of one class
    become that character consumed (or a text, window or line edge: the engine's windows are
    whole lines), which is exact."""
    if not pattern.isascii():
        return None
    lead = _LEAD.match(pattern)
    trail = _TRAIL.search(pattern, lead.end() if lead else 0)
    if lead or trail:
        middle = pattern[lead.end() if lead else 0:trail.start() if trail else None]
        try:
            regex.compile(middle)  # the guards were whole constructs, not a cut through one
        except regex.error:
            return None
        core = _rewrite(middle)
        before = _rewrite(f"[^{lead.group(1)}]") if lead else b""
        after = _rewrite(f"[^{trail.group(1)}]") if trail else b""
        if core is None or before is None or after is None:
            return None
        return ((b"(?:\\A|\\n|%s)" % before if lead else b"") + core
                + (b"(?:%s|\\n|\\z)" % after if trail else b""))
    return _rewrite(pattern)


def _rewrite(pattern: str) -> bytes | None:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = negated = False
    class_body = 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                return None
            e = pattern[i + 1]
            if e not in _ESCAPES:
                return None
            if e == "x":
                if not _HEX2.fullmatch(pattern, i + 2, i + 4):
                    return None
                out.append(pattern[i:i + 4])
                i += 4
                continue
            if in_class:
                # a negated class keeps ASCII meanings: its complement is then the wider one
                if e == "w" and not negated:
                    out.append(r"\w\x80-\xff")
                elif e == "s" and not negated:
                    out.append(r"\s\x85\xa0")
                elif e in "bBAZz":
                    return None
                else:
                    out.append(pattern[i:i + 2])
            elif e == "w":
                out.append(r"[\w\x80-\xff]")
            elif e == "s":
                out.append(r"[\s\x85\xa0]")
            elif e not in "bBAZz":
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "[":  # POSIX classes and nested sets differ between the engines
                return None
            if c == "]" and i > class_body:
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            j = i + 1
            negated = j < n and pattern[j] == "^"
            j += negated
            if j < n and pattern[j] == "]":  # a leading `]` is a literal
                j += 1
            out.append(pattern[i:j])
            in_class, class_body, i = True, j, j
            continue
        if c == "(" and pattern.startswith("(?", i):
            m = _GROUP.match(pattern, i)
            if m is None or (i and _GROUP_FLAGS.fullmatch(m.group())):
                return None  # `regex` applies a flag set mid-pattern to the whole pattern
            out.append(m.group())
            i = m.end()
            continue
        if c == "{" and pattern.startswith("{,", i):
            out.append("{0,")  # the `regex` module's `{,n}`; to Hyperscan it is a literal
            i += 2
            continue
        if c in "+*?}" and i + 1 < n and pattern[i + 1] == "+":
            return None  # possessive
        if c not in "^$":
            out.append(c)
        i += 1
    if in_class:
        return None
    return "".join(out).encode("ascii")


SLOW_GATES = frozenset({"fal.api-key"})
"""Built-in rules that get no gate: their gate has no literal for Hyperscan to anchor on (a bare
UUID:hex run), so it cost more than all other gates together (on 40 MB of langgraph blobs the
database took 0.062 s with it, 0.022-0.034 s without), while the rule's own keywords are rare
words (`fal_key`, `fal.ai`): without its gate the rule runs around those few occurrences only."""


def _gates(patterns: Sequence[str | None]) -> list[tuple[int, bytes]]:
    """(rule index, gate) of every pattern that gets a gate (None: the rule gets none)."""
    return [(ri, g) for ri, g in ((ri, None if p is None else gate_pattern(p))
                                  for ri, p in enumerate(patterns)) if g is not None]


def _code_digest() -> bytes | None:
    """SHA-256 of this module's source (the gate rewriting is part of the cache key), None when
    it cannot be read."""
    try:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest().encode()
    except OSError:
        return None


class Database:
    """Keywords (ids 0..K-1, caseless; `rules_of[k]`: indexes of the rules naming keyword k) and
    gates (id K + rule index, reported once), compiled twice. `db` reports every occurrence of
    every keyword. `lean` reports a *quiet* keyword once only: one every rule of which has a
    gate, and that is not `loud` (a keyword whose every occurrence the engine reads by itself,
    a base64 context). Most keyword occurrences are quiet ones of rules whose gate does not
    fire (`0.`, `pat`, `re_`: millions in a history scan), and each costs a Python callback;
    their offsets are read only to run a rule whose gate fired, or to decode escapes around
    them. So `scan(..., lean=True)` (the engine asks it for a text with nothing to decode:
    `scanner.decoding.may_decode`) scans with `lean`, and scans again with `db` when the gate of
    a rule of a quiet keyword fired. The gates are the same in both."""

    def __init__(self, hs: Any, keywords: Sequence[bytes], patterns: Sequence[str | None],
                 rules_of: Sequence[Sequence[int]], loud: Collection[int]) -> None:
        from detectors import cache

        self.hs = hs
        self.keywords = len(keywords)
        self.rules = len(patterns)
        self._lengths: Sequence[int] | None = None
        self._starts: list[int] = []
        candidates: list[tuple[int, bytes]] | None = None
        code = _code_digest()
        if code is None:  # without this module's text the key is the rewritten gates themselves
            candidates = _gates(patterns)
            parts = [b"gates-1", *(b"%d:%s" % pair for pair in candidates)]
        else:  # rewriting ~270 patterns costs more than a one-file scan: only on a cache miss
            parts = [b"gates-3", code, regex.__version__.encode(), b"%d" % len(patterns),
                     *(b"\1" if p is None else p.encode("utf-8", "surrogatepass") for p in patterns)]
        parts += [b" ".join(b"%d" % ri for ri in rs) for rs in rules_of]
        parts.append(b"loud " + b" ".join(b"%d" % k for k in sorted(loud)))
        key = hashlib.sha256(b"\0".join([*parts, str(hs.__version__).encode(), *keywords])
                             ).hexdigest()
        stored = cache.load("hyperscan", key)
        self.db: Any = None
        self.lean: Any = None
        if stored is not None:
            try:
                gated, size, blobs = stored.split(b"\n", 2)
                cut = int(size)
                self.db = hs.loadb(blobs[:cut], hs.HS_MODE_BLOCK)
                self.lean = hs.loadb(blobs[cut:], hs.HS_MODE_BLOCK)
                self.gated = frozenset(int(x) for x in gated.split())
            except Exception:  # noqa: BLE001 - an entry that does not load is compiled anew
                self.db = None
        if self.db is None:
            pairs = candidates or _gates(patterns)
            self.gated = frozenset(ri for ri, _ in pairs)
            # Hyperscan compiles without the GIL: `lean` on a second core while `db` compiles
            lean: list[Any] = []
            job = threading.Thread(target=self._compile_into, daemon=True,
                                   args=(lean, keywords, pairs, self._quiet(rules_of, loud)))
            job.start()
            try:
                self.db = self._compile(keywords, pairs, frozenset())
            except Exception:  # noqa: BLE001 - some gate does not compile (it may match empty)
                job.join()
                pairs = _compiling(hs, pairs)
                self.gated = frozenset(ri for ri, _ in pairs)
                self.db = self._compile(keywords, pairs, frozenset())
                lean.clear()
            job.join()
            self.lean = lean[0] if lean else self._compile(keywords, pairs,
                                                           self._quiet(rules_of, loud))
            full = hs.dumpb(self.db)
            cache.store("hyperscan", key, " ".join(map(str, sorted(self.gated))).encode()
                        + b"\n%d\n" % len(full) + full + hs.dumpb(self.lean))
        quiet = self._quiet(rules_of, loud)
        self.quiet_rules = frozenset(ri for k in quiet for ri in rules_of[k])
        """Rules of the quiet keywords: when one's gate fires, `lean` offsets are not enough."""
        self.scratch = hs.Scratch(self.db)
        self.lean_scratch = hs.Scratch(self.lean)

    def _quiet(self, rules_of: Sequence[Sequence[int]], loud: Collection[int]) -> frozenset[int]:
        """Keywords that `lean` reports once: not loud, every rule of them gated."""
        return frozenset(k for k, rs in enumerate(rules_of)
                         if k not in loud and all(ri in self.gated for ri in rs))

    def _compile_into(self, out: list[Any], keywords: Sequence[bytes],
                      gates: list[tuple[int, bytes]], quiet: frozenset[int]) -> None:
        """`_compile` for a thread: the database appended to `out`, nothing when it fails."""
        try:
            out.append(self._compile(keywords, gates, quiet))
        except Exception:  # noqa: BLE001 - compiled again, after the gates that fail are known
            pass

    def _compile(self, keywords: Sequence[bytes], gates: list[tuple[int, bytes]],
                 quiet: frozenset[int]) -> Any:
        hs = self.hs
        exprs = [regex.escape(k.decode("utf-8")).encode("utf-8") for k in keywords]
        exprs += [g for _, g in gates]
        once = hs.HS_FLAG_CASELESS | hs.HS_FLAG_SINGLEMATCH
        db = hs.Database()
        db.compile(expressions=exprs,
                   ids=list(range(len(keywords))) + [len(keywords) + ri for ri, _ in gates],
                   elements=len(exprs),
                   flags=[once if k in quiet else hs.HS_FLAG_CASELESS for k in range(len(keywords))]
                   + [hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH] * len(gates))
        return db

    def scan(self, data: bytes, lengths: Sequence[int], lean: bool = False
             ) -> tuple[dict[int, list[int]], set[int]]:
        """(keyword index → sorted start offsets, indexes of rules whose gate fired). `lean`:
        a quiet keyword's offsets may be only its first one, unless a rule of it fired (the
        caller reads them only to decode escapes, or to run a rule whose gate fired)."""
        if lean:
            hits, fired = self._scan(self.lean, self.lean_scratch, data, lengths)
            if self.quiet_rules.isdisjoint(fired):
                return hits, fired
        return self._scan(self.db, self.scratch, data, lengths)

    def fired(self, data: bytes, lengths: Sequence[int]) -> set[int]:
        """Indexes of the rules whose gate fires in `data` (quiet keywords cost one callback)."""
        return self._scan(self.lean, self.lean_scratch, data, lengths)[1]

    def _scan(self, db: Any, scratch: Any, data: bytes, lengths: Sequence[int]
              ) -> tuple[dict[int, list[int]], set[int]]:
        # the callback runs once per keyword occurrence (millions in a history scan): one
        # indexing and one append, no branch; gates (ids past the keywords, reported once) are
        # set apart afterwards
        found: defaultdict[int, list[int]] = defaultdict(list)
        k = self.keywords
        if self._lengths is not lengths:  # keyword lengths, then 0 for every gate id
            self._lengths, self._starts = lengths, [*lengths, *([0] * self.rules)]
        starts = self._starts

        def on_match(pid: int, _from: int, to: int, _fl: int, _ctx: object) -> None:
            found[pid].append(to - starts[pid])

        db.scan(data, match_event_handler=on_match, scratch=scratch)
        fired = {pid - k for pid in found if pid >= k}
        hits = {pid: offsets for pid, offsets in found.items() if pid < k}
        for offsets in hits.values():
            offsets.sort()
        return hits, fired


def _compiling(hs: Any, gates: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The gates that Hyperscan compiles, each tried alone (slow, then cached)."""
    ok = []
    for ri, g in gates:
        try:
            single = hs.Database()
            single.compile(expressions=[g], ids=[0], elements=1,
                           flags=[hs.HS_FLAG_PREFILTER | hs.HS_FLAG_SINGLEMATCH])
        except Exception:  # noqa: BLE001
            continue
        ok.append((ri, g))
    return ok
