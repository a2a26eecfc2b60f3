"""The dedup stage: matches → credentials. Every copy of one secret (same fingerprint of the exact
string: `scanner.fingerprints`) becomes one `Credential` with all its locations. Plaintext is dropped here: a credential
keeps only the fingerprint and a redacted preview."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field, replace

from scanner.declared import RULE_ID as DECLARED
from scanner.model import Credential, KnownMatch, Location, Match


@dataclass(slots=True)
class _Acc:
    rule_id: str
    provider: str
    redacted: str
    lifetime_hint: str
    captures: tuple[tuple[str, str], ...]
    keyed: bool = False
    locations: set[Location] = field(default_factory=set)


def jwt_expiry(match: Match) -> tuple[tuple[str, str], ...]:
    """A JWT's `exp` claim (not secret: expiry evidence for the graph), as an `exp` capture."""
    if match.provider != "jwt" or match.secret.count(".") != 2:
        return ()
    payload = match.secret.split(".")[1]
    try:
        exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("exp")
    except (ValueError, binascii.Error, UnicodeDecodeError, AttributeError):
        return ()
    return (("exp", str(int(exp))),) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else ()


def to_known(match: Match) -> KnownMatch:
    """A match without its plaintext (what findings and the blob cache keep), with the non-secret
    facts only the plaintext can give (a JWT's expiry) already drawn from it."""
    known = KnownMatch.of(match)
    exp = jwt_expiry(match)
    return replace(known, captures=known.captures + exp) if exp else known


def unique_prefixes(fingerprints: list[str], minimum: int = 12) -> dict[str, str]:
    """Each fingerprint's shortest prefix of at least `minimum` hex digits that no other one of
    `fingerprints` shares: what the table shows and `--allowlist` / baselines accept."""
    out: dict[str, str] = {}
    ordered = sorted(set(fingerprints))
    for i, fp in enumerate(ordered):
        n = minimum
        for other in (ordered[i - 1] if i else "", ordered[i + 1] if i + 1 < len(ordered) else ""):
            common = next((k for k, (a, b) in enumerate(zip(fp, other)) if a != b), min(len(fp), len(other)))
            n = max(n, common + 1)
        out[fp] = fp[:n]
    return out


class Allowlist:
    """Fingerprints, or unique prefixes of them (at least 12 hex digits, as the table shows), that
    are never reported. A prefix that turns out to match two credentials suppresses neither."""

    def __init__(self, entries: frozenset[str] = frozenset()) -> None:
        self.entries = entries
        self._by_len: dict[int, frozenset[str]] = {}
        for n in sorted({len(e) for e in entries}):
            self._by_len[n] = frozenset(e for e in entries if len(e) == n)

    def entry_for(self, fp: str) -> str | None:
        for n, group in self._by_len.items():
            if fp[:n] in group:
                return fp[:n]
        return None

    def __bool__(self) -> bool:
        return bool(self.entries)


class Findings:
    """Accumulates matches from any number of chunks and sources."""

    def __init__(self, allowlist: frozenset[str] = frozenset()) -> None:
        self._by_fp: dict[str, _Acc] = {}
        self.allowlist = Allowlist(allowlist)
        self.allowlisted = 0
        self.allowlisted_fps: set[str] = set()
        self._held: dict[str, dict[str, tuple[_Acc, int]]] = {}
        """Allowlist entry → the credentials it suppressed, with their match counts."""
        self.ambiguous: set[str] = set()
        """Allowlist prefixes that matched more than one credential (those are reported)."""

    def add(self, match: Match | KnownMatch, locations: tuple[Location, ...]) -> None:
        self.add_known(match if isinstance(match, KnownMatch) else to_known(match), locations)

    def add_known(self, known: KnownMatch, locations: tuple[Location, ...]) -> None:
        """A match without its plaintext: a fresh one, or one carried over from the datastore."""
        fp = known.fingerprint
        entry = self.allowlist.entry_for(fp) if self.allowlist else None
        if entry is not None:
            self.allowlisted += 1
            self.allowlisted_fps.add(fp)
            held = self._held.setdefault(entry, {})
            hacc, count = held.get(fp) or (_new_acc(known), 0)
            _absorb(hacc, known, locations)
            held[fp] = (hacc, count + 1)
            return
        acc = self._by_fp.get(fp)
        if acc is None:
            acc = self._by_fp[fp] = _new_acc(known)
        _absorb(acc, known, locations)

    def merge(self, other: Findings) -> None:
        for fp, acc in other._by_fp.items():
            mine = self._by_fp.setdefault(fp, _Acc(acc.rule_id, acc.provider, acc.redacted,
                                                   acc.lifetime_hint, acc.captures, acc.keyed))
            if mine.rule_id == DECLARED and acc.rule_id != DECLARED:
                mine.rule_id, mine.provider = acc.rule_id, acc.provider
                mine.lifetime_hint, mine.captures = acc.lifetime_hint, acc.captures
            mine.locations.update(acc.locations)
        self.allowlisted += other.allowlisted
        self.allowlisted_fps |= other.allowlisted_fps
        for entry, held in other._held.items():
            mine_held = self._held.setdefault(entry, {})
            for fp, (acc, count) in held.items():
                if fp in mine_held:
                    mine_held[fp][0].locations.update(acc.locations)
                    mine_held[fp] = (mine_held[fp][0], mine_held[fp][1] + count)
                else:
                    mine_held[fp] = (acc, count)

    def credentials(self) -> tuple[Credential, ...]:
        for entry, held in self._held.items():
            if len(held) > 1:         # not a unique prefix: report what it would have hidden
                self.ambiguous.add(entry)
                for fp, (acc, count) in held.items():
                    self._by_fp[fp] = acc
                    self.allowlisted -= count
                    self.allowlisted_fps.discard(fp)
        self._held = {e: h for e, h in self._held.items() if len(h) == 1}
        return tuple(
            Credential(fp, a.rule_id, a.provider, a.redacted, tuple(sorted(a.locations, key=_loc_key)),
                       a.lifetime_hint, a.captures, a.keyed)
            for fp, a in sorted(self._by_fp.items()))


def _new_acc(known: KnownMatch) -> _Acc:
    return _Acc(known.rule_id, known.provider, known.redacted, known.lifetime_hint, known.captures,
                known.keyed)


def _absorb(acc: _Acc, known: KnownMatch, locations: tuple[Location, ...]) -> None:
    if acc.rule_id == DECLARED and known.rule_id != DECLARED:
        # a rule that knows the format names the credential better than its key name did
        acc.rule_id, acc.provider = known.rule_id, known.provider
        acc.lifetime_hint, acc.captures = known.lifetime_hint, known.captures
    acc.locations.update(loc.with_line(known.line) for loc in locations)


def _loc_key(loc: Location) -> tuple[object, ...]:
    # live copies first, then by place
    return (loc.state != "live", loc.source, loc.container, loc.path, loc.commit or "", loc.line or 0)
