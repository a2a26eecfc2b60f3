"""The detection stage: rules → matches. Takes chunk bytes, gives `Match` records.

Two steps per chunk. The prefilter finds which rules can match at all: every rule names keywords,
and a rule runs only on chunks that contain one of them (case-insensitive). With the `hyperscan`
package the keywords are one compiled Hyperscan database scanned in a single pass; without it each
keyword is looked up with `bytes.find` on the lowered chunk. Both give the same candidate set, so
the same findings (tests/test_engine_equivalence.py proves it on the whole labelled corpus).
Then each candidate rule's regex (the `regex` module) runs over the text, and validators filter
the captures. Decoded views (`scanner.decoding`) are built only when the text has candidates for
them: JSON and URL escapes only for a chunk that has candidate rules (escaping leaves keywords
readable, so the same rules run on them); base64 only when a base64 context literal (`data:`,
`Basic `...) is in the prefilter hits, with its own prefilter pass over the decoded text (encoding
hides the keywords). Matches in every view are attributed to the original line.
The engine never prints or exits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from dataclasses import dataclass

import regex

from detectors.rule import Rule
from detectors.validators import VALIDATORS, is_placeholder, shannon_entropy
from scanner.decoding import BASE64_CONTEXT, View, views
from scanner.model import Match

try:  # the fast path is optional: same results without it
    import hyperscan as _hs
except ImportError:  # pragma: no cover - exercised where hyperscan is absent
    _hs = None  # type: ignore[assignment]

ALLOW_MARKER = "sprawlscan:allow"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    regex: regex.Pattern[str]
    group: int | str


class Engine:
    """Compiles the rules once; `scan(data)` is safe to call from one thread at a time."""

    def __init__(self, rules: Iterable[Rule], *, use_hyperscan: bool | None = None) -> None:
        self.rules = [CompiledRule(r, regex.compile(r.pattern), _secret_group(r)) for r in rules]
        gates = {k.lower() for k in BASE64_CONTEXT}
        keywords = sorted({k.lower() for c in self.rules for k in c.rule.keywords} | gates)
        self._keywords = [k.encode("utf-8") for k in keywords]
        kw_index = {k: i for i, k in enumerate(keywords)}
        self._rules_by_kw: list[list[int]] = [[] for _ in keywords]
        self._gate_ids = frozenset(kw_index[k] for k in gates)
        # rules without keywords (imported gitleaks rules may have none) run on every chunk
        self._always = [ri for ri, c in enumerate(self.rules) if not c.rule.keywords]
        for ri, c in enumerate(self.rules):
            for k in {k.lower() for k in c.rule.keywords}:
                self._rules_by_kw[kw_index[k]].append(ri)
        if use_hyperscan is None:
            use_hyperscan = _hs is not None
        if use_hyperscan and _hs is None:
            raise RuntimeError("hyperscan is not installed")
        self.backend = "hyperscan" if use_hyperscan else "regex"
        self._hs_db = self._compile_hyperscan() if use_hyperscan and self._keywords else None
        self._scratch = _hs.Scratch(self._hs_db) if self._hs_db is not None else None

    def _compile_hyperscan(self) -> Any:
        assert _hs is not None
        db = _hs.Database()
        exprs = [regex.escape(k.decode("utf-8")).encode("utf-8") for k in self._keywords]
        flags = [_hs.HS_FLAG_CASELESS | _hs.HS_FLAG_SINGLEMATCH] * len(exprs)
        db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        return db

    def keyword_hits(self, data: bytes) -> set[int]:
        """Ids of the keywords (rule keywords and decoding gates) that occur in `data`."""
        if self._hs_db is not None:
            found: set[int] = set()

            def on_match(kw_id: int, _f: int, _t: int, _fl: int, _ctx: object) -> None:
                found.add(kw_id)

            self._hs_db.scan(data, match_event_handler=on_match, scratch=self._scratch)  # type: ignore[attr-defined]
            return found
        lowered = data.lower()
        return {kw_id for kw_id, kw in enumerate(self._keywords) if kw in lowered}

    def candidate_rules(self, data: bytes, hits: set[int] | None = None) -> list[int]:
        """Indexes of rules whose keywords occur in `data` (case-insensitive), sorted."""
        rules: set[int] = set(self._always)
        for kw_id in self.keyword_hits(data) if hits is None else hits:
            rules.update(self._rules_by_kw[kw_id])
        return sorted(rules)

    def scan(self, data: bytes) -> list[Match]:
        """All matches in one chunk, deduplicated by (rule, secret, line), in text order."""
        hits = self.keyword_hits(data)
        candidates = self.candidate_rules(data, hits)
        base64_context = not hits.isdisjoint(self._gate_ids)
        if not candidates and not base64_context:
            return []
        text = data.decode("utf-8", errors="replace")
        out: dict[tuple[str, str, int], Match] = {}
        for view in views(text, escapes=bool(candidates), base64_context=base64_context):
            # JSON and URL escapes leave keywords readable; base64 hides them: prefilter again
            rules = candidates if not view.kind.startswith("base64") else \
                self.candidate_rules(view.text.encode("utf-8", "surrogatepass"))
            for ri in rules:
                for m in self._matches(self.rules[ri], view):
                    out.setdefault((m.rule_id, m.secret, m.line), m)
        return sorted(out.values(), key=lambda m: (m.line, m.start, m.rule_id))

    def _matches(self, c: CompiledRule, view: View) -> Iterator[Match]:
        rule = c.rule
        for m in c.regex.finditer(view.text):
            secret = m.group(c.group)
            if not secret:
                continue
            s, e = m.span(c.group)
            if not accept(rule, secret, view.text[max(0, s - 200): e + 200]):
                continue
            start, end = view.original_span(s, e)
            line_start = view.original.rfind("\n", 0, start) + 1
            line_end = view.original.find("\n", end)
            if ALLOW_MARKER in view.original[line_start: line_end if line_end >= 0 else None]:
                continue
            captures = tuple(sorted(
                (k, v) for k, v in m.groupdict().items() if v and k != "secret"))
            yield Match(rule.id, rule.provider, secret, start, end,
                        view.original.count("\n", 0, start) + 1, captures, rule.lifetime_hint)


def accept(rule: Rule, secret: str, context: str) -> bool:
    """The false-positive filters every rule gets: placeholders, entropy floor, validators."""
    if is_placeholder(secret):
        return False
    if rule.min_entropy and shannon_entropy(secret) < rule.min_entropy:
        return False
    return all(VALIDATORS[name](secret, context, rule.keywords) for name in rule.validators)


def _secret_group(rule: Rule) -> int | str:
    if rule.secret_group is not None:
        return rule.secret_group
    compiled = regex.compile(rule.pattern)
    if "secret" in compiled.groupindex:
        return "secret"
    return 1 if compiled.groups else 0
