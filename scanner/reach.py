"""Part of the detection stage: how far from a keyword occurrence a rule's match can reach.

The engine runs a rule's regex over windows around its keywords' occurrences; by default a window
is whole lines from WINDOW_BEFORE before to WINDOW_AFTER after, because a keyword may sit anywhere
near a match. Most rules say more: every match *contains* one of the rule's keywords
(`(?i:ado|azdo|...)token...`, `EAAA[...]{60}`) and is at most N characters long. Then every match
lies, together with every character its lookarounds and word boundaries read, within N characters
of a keyword occurrence, and a window of N on each side finds exactly what the line-wide one finds,
on minified one-line files too. `reach(pattern, keywords)` gives that N, or None when it cannot be
shown; the engine then keeps the line-wide window.

The pattern is read with the `regex` module's own parser (its syntax is a superset of `re`'s:
`{e<=1}`, `[[:alpha:]]`, `\\p{..}` mean other things to `re`), and only a short list of node types
is understood: literals, classes, properties, `.`, groups, alternation, counted repeats, lookarounds
and the ASCII word boundary. Anything else (anchors, back-references, fuzzy matching, named lists,
`\\K`, Unicode word boundaries, full case folding, version-1 or reverse/POSIX matching) gives None.
Characters are ASCII-lowered, as the prefilter lowers the text: a case-insensitive ASCII letter
matches no other latin-1 character, and the engine's texts are latin-1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EXACT_LIMIT = 64
"""Largest set of strings a node is tracked as matching exactly (`[_\\-]?devops` is three)."""
SET_LIMIT = 8
"""Largest character class expanded into its characters (`[Aa]`, `[_\\-]`)."""


class _Unknown(Exception):
    """A construct outside the understood list."""


@dataclass(frozen=True, slots=True)
class _Node:
    width: int | None
    """Most characters the node reads: consumed, plus what its lookarounds and boundaries read
    (None: unbounded)."""
    exact: frozenset[str] | None
    """The (ASCII-lowered) strings the node consumes, when few and known."""
    keyed: bool
    """Every match of the node contains a keyword."""


def reach(pattern: str, keywords: Iterable[str]) -> int | None:
    """N such that every match of `pattern`, and every character matching it reads, lies within
    N characters of one of `keywords` occurring inside the match (case-insensitive); None when
    that cannot be shown."""
    kws = tuple(sorted({k.lower() for k in keywords}))
    if not kws or not all(k and k.isascii() for k in kws):
        return None
    try:
        tree = _parse(pattern)
        node = _Walker(kws).node(tree)
    except _Unknown:
        return None
    except Exception:  # noqa: BLE001 - the parser is the regex module's internals: any surprise
        return None    # means "not shown", never a wrong bound
    if node.width is None or not _keyed(node, kws):
        return None
    return node.width


def _parse(pattern: str) -> Any:
    """The `regex` module's parse tree of `pattern`, as `regex.compile` builds it (version 0)."""
    from regex import _regex_core as core

    flags = 0
    for _ in range(8):  # a global flag met mid-pattern restarts the parse with it, as compile does
        source = core.Source(pattern)
        info = core.Info(flags, source.char_type, {})
        info.guess_encoding = core.UNICODE
        source.ignore_space = bool(info.flags & core.VERBOSE)
        try:
            tree = core._parse_pattern(source, info)
        except core._UnscopedFlagSet:
            flags = info.global_flags
            continue
        if not source.at_end():
            raise _Unknown("unbalanced")
        allowed = (core.IGNORECASE | core.MULTILINE | core.DOTALL | core.VERBOSE | core.ASCII
                   | core.UNICODE | core.VERSION0)
        if info.flags & ~allowed or core.DEFAULT_VERSION != core.VERSION0:
            raise _Unknown("flags")
        return tree
    raise _Unknown("flags")


def _keyed(node: _Node, kws: tuple[str, ...]) -> bool:
    return node.keyed or (node.exact is not None and all(_contains(s, kws) for s in node.exact))


def _contains(s: str, kws: tuple[str, ...]) -> bool:
    return any(k in s for k in kws)


def _lower(chars: Iterable[int]) -> str | None:
    """The ASCII-lowered string of code points, None when one is not ASCII."""
    s = "".join(map(chr, chars))
    return s.lower() if s.isascii() else None


class _Walker:
    def __init__(self, kws: tuple[str, ...]) -> None:
        from regex import _regex_core as core

        self.core = core
        self.kws = kws
        self.one = frozenset({core.Any, core.AnyAll, core.AnyU, core.Property})
        self.sets = frozenset({core.SetUnion, core.SetDiff, core.SetInter, core.SetSymDiff})
        self.repeats = frozenset({core.GreedyRepeat, core.LazyRepeat, core.PossessiveRepeat})
        # the ASCII word boundary reads one character on each side
        self.boundaries = frozenset({core.Boundary, core.StartOfWord, core.EndOfWord})

    def node(self, n: Any) -> _Node:
        core, t = self.core, type(n)
        if getattr(n, "case_flags", 0) & core.FULLCASE:
            raise _Unknown("full case folding")  # `ß` matches `ss`: widths change
        if getattr(n, "zerowidth", False) and t is not core.LookAround:
            raise _Unknown("zero-width node")
        if t is core.Sequence:
            return self.sequence([self.node(i) for i in n.items])
        if t is core.Branch:
            return self.branch([self.node(b) for b in n.branches])
        if t is core.Group or t is core.Atomic:
            return self.node(n.subpattern)
        if t in self.repeats:
            return self.repeat(self.node(n.subpattern), n.min_count, n.max_count)
        if t is core.LookAround:
            sub = self.node(n.subpattern)
            return _Node(sub.width, frozenset({""}), False)
        if t in self.boundaries:
            return _Node(2, frozenset({""}), False)
        if t is core.Character:
            s = _lower([n.value]) if n.positive else None
            return _Node(1, None if s is None else frozenset({s}), False)
        if t is core.String or t is core.Literal:
            s = _lower(n.characters)
            return _Node(len(n.characters), None if s is None else frozenset({s}), False)
        if t in self.sets or t is core.Range:
            return _Node(1, self.chars(n), False)
        if t in self.one:
            return _Node(1, None, False)
        raise _Unknown(t.__name__)

    def chars(self, n: Any) -> frozenset[str] | None:
        """The characters a small positive class matches, lowered; None if not small or known."""
        core = self.core
        if not n.positive:
            return None
        if type(n) is core.Range:
            if n.upper - n.lower >= SET_LIMIT:
                return None
            s = _lower(range(n.lower, n.upper + 1))
            return None if s is None else frozenset(s)
        if type(n) is not core.SetUnion:
            return None
        out: set[str] = set()
        for item in n.items:
            if type(item) is core.Character and item.positive:
                got: frozenset[str] | None = self.chars_of(item.value)
            elif type(item) is core.Range:
                got = self.chars(item)
            else:
                return None
            if got is None:
                return None
            out |= got
        return frozenset(out) if len(out) <= SET_LIMIT else None

    @staticmethod
    def chars_of(value: int) -> frozenset[str] | None:
        s = _lower([value])
        return None if s is None else frozenset({s})

    def sequence(self, items: list[_Node]) -> _Node:
        width: int | None = 0
        keyed = False
        run: frozenset[str] | None = frozenset({""})  # the exact strings of the current run
        exact: frozenset[str] | None = frozenset({""})
        for it in items:
            width = None if width is None or it.width is None else width + it.width
            keyed = keyed or _keyed(it, self.kws)
            exact = _product(exact, it.exact)
            if it.exact is None:
                keyed = keyed or _keyed(_Node(0, run, False), self.kws)
                run = frozenset({""})
                continue
            joined = _product(run, it.exact)
            if joined is None:  # too many: judge the run so far, start again from this item
                keyed = keyed or _keyed(_Node(0, run, False), self.kws)
                joined = it.exact
            run = joined
        keyed = keyed or _keyed(_Node(0, run, False), self.kws)
        return _Node(width, exact, keyed)

    def branch(self, branches: list[_Node]) -> _Node:
        widths = [b.width for b in branches]
        width = None if any(w is None for w in widths) else max(w for w in widths if w is not None)
        exact: frozenset[str] | None = frozenset()
        for b in branches:
            exact = None if exact is None or b.exact is None else exact | b.exact
        if exact is not None and len(exact) > EXACT_LIMIT:
            exact = None
        return _Node(width, exact, all(_keyed(b, self.kws) for b in branches))

    def repeat(self, sub: _Node, low: int, high: int | None) -> _Node:
        width = None if high is None or sub.width is None else sub.width * high
        exact: frozenset[str] | None = None
        if sub.exact is not None and high is not None and high <= 3:
            exact = frozenset()
            power: frozenset[str] | None = frozenset({""})
            for count in range(high + 1):
                if power is None:
                    exact = None
                    break
                if count >= low:
                    exact = exact | power
                power = _product(power, sub.exact)
            if exact is not None and len(exact) > EXACT_LIMIT:
                exact = None
        return _Node(width, exact, low >= 1 and _keyed(sub, self.kws))


def _product(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None or b is None or len(a) * len(b) > EXACT_LIMIT:
        return None
    return frozenset(x + y for x in a for y in b)
