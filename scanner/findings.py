"""The dedup stage: matches → credentials. Every copy of one secret (same SHA-256 of the exact
string) becomes one `Credential` with all its locations. Plaintext is dropped here: a credential
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


class Findings:
    """Accumulates matches from any number of chunks and sources."""

    def __init__(self, allowlist: frozenset[str] = frozenset()) -> None:
        self._by_fp: dict[str, _Acc] = {}
        self.allowlist = allowlist
        self.allowlisted = 0
        self.allowlisted_fps: set[str] = set()

    def add(self, match: Match | KnownMatch, locations: tuple[Location, ...]) -> None:
        self.add_known(match if isinstance(match, KnownMatch) else to_known(match), locations)

    def add_known(self, known: KnownMatch, locations: tuple[Location, ...]) -> None:
        """A match without its plaintext: a fresh one, or one carried over from the datastore."""
        fp = known.fingerprint
        if fp in self.allowlist:
            self.allowlisted += 1
            self.allowlisted_fps.add(fp)
            return
        acc = self._by_fp.get(fp)
        if acc is None:
            acc = self._by_fp[fp] = _Acc(known.rule_id, known.provider, known.redacted,
                                         known.lifetime_hint, known.captures)
        elif acc.rule_id == DECLARED and known.rule_id != DECLARED:
            # a rule that knows the format names the credential better than its key name did
            acc.rule_id, acc.provider = known.rule_id, known.provider
            acc.lifetime_hint, acc.captures = known.lifetime_hint, known.captures
        acc.locations.update(loc.with_line(known.line) for loc in locations)

    def merge(self, other: Findings) -> None:
        for fp, acc in other._by_fp.items():
            mine = self._by_fp.setdefault(fp, _Acc(acc.rule_id, acc.provider, acc.redacted,
                                                   acc.lifetime_hint, acc.captures))
            if mine.rule_id == DECLARED and acc.rule_id != DECLARED:
                mine.rule_id, mine.provider = acc.rule_id, acc.provider
                mine.lifetime_hint, mine.captures = acc.lifetime_hint, acc.captures
            mine.locations.update(acc.locations)
        self.allowlisted += other.allowlisted
        self.allowlisted_fps |= other.allowlisted_fps

    def credentials(self) -> tuple[Credential, ...]:
        return tuple(
            Credential(fp, a.rule_id, a.provider, a.redacted, tuple(sorted(a.locations, key=_loc_key)),
                       a.lifetime_hint, a.captures)
            for fp, a in sorted(self._by_fp.items()))


def _loc_key(loc: Location) -> tuple[object, ...]:
    # live copies first, then by place
    return (loc.state != "live", loc.source, loc.container, loc.path, loc.commit or "", loc.line or 0)
