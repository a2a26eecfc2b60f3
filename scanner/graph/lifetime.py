"""Survival stage, lifetime evidence: from a credential's record and the inventory declarations
that name it, gives its stated expiries (inventory, live vault metadata, a JWT's `exp`, the
provider), the latest one, and its lifetime (`short-lived` or `static`) with the contradictions
found on the way. Only a credential known to be short-lived can die of its expiry: a declared
expiry on a key of unknown lifetime is a date someone wrote, not proof that the key stops
working; a `short-lived` declaration on a kind of key its provider never expires, or on a value
that works for longer than such a credential lives, is contradicted and counts as static."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.graph.inventory import Agent, CredentialRef, latest_instant, later
from scanner.model import Credential

NEVER_EXPIRES: dict[str, str] = {
    "openai.project": "OpenAI API keys have no expiry",
    "openai.service-account": "OpenAI API keys have no expiry",
    "openai.admin": "OpenAI admin keys have no expiry",
    "openai.legacy": "OpenAI API keys have no expiry",
    "anthropic.api": "Anthropic API keys have no expiry",
    "anthropic.admin": "Anthropic admin keys have no expiry",
    "aws.access-key": "IAM access keys (AKIA...) have no expiry",
}
"""Rules whose provider issues only keys that never expire: `short-lived` contradicts them."""

H = dt.timedelta(hours=1)
MAX_LIFETIME: dict[str, dt.timedelta] = {
    "github.installation": 1 * H,  # GitHub App installation tokens: 1 hour
    "github.installation-long": 1 * H,
    "github.user-to-server": 8 * H,  # GitHub App user tokens: 8 hours
    "aws.sts-session": 36 * H,  # STS session credentials: at most 36 hours
    "aws.bedrock-short": 12 * H,  # Bedrock short-term API keys: at most 12 hours
    "google.oauth-access-token": 12 * H,  # 1 hour, 12 with an extended-lifetime policy
    "slack.config-access": 12 * H,  # Slack configuration tokens: 12 hours
    "digitalocean.oauth": 30 * 24 * H,  # DigitalOcean OAuth access tokens: 30 days
    "vault.batch-token": 768 * H,  # Vault's default max_ttl (32 days)
}
"""The longest a credential of a short-lived kind lives, where the provider documents it; any
other short-lived credential is bounded by `--max-short-lived` (default 7 days)."""
DEFAULT_MAX_SHORT = dt.timedelta(days=7)

EXPIRY_ATTRIBUTES = ("custom_metadata.expires", "custom_metadata.expires_at", "custom_metadata.expiry",
                     "custom_metadata.expiration", "custom_metadata.expires-at", "expires", "expires_at",
                     "expiry", "expiration")
"""Vault attributes that state when the value stops working (never `deletion_time`: deleting a
copy does not kill a credential)."""
PROVIDER_EXPIRY = "provider_expires_at"
"""Capture under which survival carries the expiry a provider stated (`--verify`)."""
INTRINSIC = ("the token's exp claim", "the provider")
"""Expiry evidence that comes from the value itself or its provider, not from a declaration."""

Decls = Sequence[tuple[Agent, CredentialRef]]


@dataclass(frozen=True, slots=True)
class Lifetime:
    kind: str
    """`short-lived` or `static` (also for unknown or contradicted lifetimes)."""
    expiry: dt.datetime | None
    """The latest stated expiry."""
    contradictions: tuple[str, ...] = ()
    """Lifetime evidence that disagrees with itself: reported, and it blocks."""
    note: str = ""
    """Why a stated expiry is not taken as the end of the credential's life."""


def as_time(v: str) -> dt.datetime | None:
    try:
        if v.isdigit():
            return dt.datetime.fromtimestamp(int(v), dt.timezone.utc)
        return latest_instant(dt.date.fromisoformat(v) if len(v) == 10 else
                              dt.datetime.fromisoformat(v.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None


def expiry_evidence(cred: Credential, decls: Decls) -> list[tuple[dt.datetime, str]]:
    """Every stated expiry, with where it is stated: the inventory, the live vault version's
    metadata, the token's own `exp` claim, the provider."""
    out = [(cr.expires, f"inventory {a.name}#{cr.id}") for a, cr in decls if cr.expires]
    for loc in cred.locations:
        if loc.source == "vault" and loc.state == "live":
            attrs = dict(getattr(loc, "attributes", ()) or ())
            out += [(t, f"vault {loc.container}/{loc.path} {k}") for k in EXPIRY_ATTRIBUTES
                    if k in attrs and (t := as_time(str(attrs[k])))]
    caps = dict(cred.captures)
    if "exp" in caps and (t := as_time(caps["exp"])):
        out.append((t, INTRINSIC[0]))
    if PROVIDER_EXPIRY in caps and (t := as_time(caps[PROVIDER_EXPIRY])):
        out.append((t, INTRINSIC[1]))
    return out


def expiry(cred: Credential, decls: Decls) -> dt.datetime | None:
    """The latest stated expiry (an earlier, contradicted date never kills it)."""
    return max((t for t, _ in expiry_evidence(cred, decls)), default=None)


def expiry_conflicts(cred: Credential, decls: Decls) -> tuple[str, ...]:
    evidence = expiry_evidence(cred, decls)
    if len({t for t, _ in evidence}) < 2:
        return ()
    stated = "; ".join(f"{where} says {t.isoformat()}" for t, where in sorted(evidence))
    return (f"expiry evidence disagrees ({stated}): the latest counts; resolve the conflict",)


def _span(d: dt.timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:.4g} days"


def lifetime(cred: Credential, decls: Decls, at: dt.datetime, grace: dt.timedelta,
             max_short: dt.timedelta = DEFAULT_MAX_SHORT) -> Lifetime:
    """`short-lived` needs a known expiry and a short-lived kind (declared, or the rule's) that
    nothing contradicts, or, for an unknown kind, an expiry within the grace period stated by the
    value itself (a JWT's `exp`) or its provider. A declared `lifetime: static` wins; anything
    else (a JWT valid for years, a key whose only expiry is the inventory's word) is `static`."""
    declared = {cr.lifetime for _, cr in decls if cr.lifetime}
    end = expiry(cred, decls)
    if "static" in declared:
        return Lifetime("static", end)
    if "short-lived" in declared and cred.rule_id in NEVER_EXPIRES:
        return Lifetime("static", end, (f"declared short-lived, but {NEVER_EXPIRES[cred.rule_id]} "
                                        f"({cred.rule_id}): counted as static; correct the inventory",))
    if end is None:
        return Lifetime("static", None)
    if "short-lived" in declared or cred.lifetime_hint == "short-lived":
        bound = MAX_LIFETIME.get(cred.rule_id, max_short)
        if end - at > bound:
            known = "documented" if cred.rule_id in MAX_LIFETIME else "assumed (--max-short-lived)"
            source = "declared short-lived" if "short-lived" in declared else f"{cred.rule_id} is short-lived"
            return Lifetime("static", end, (
                f"{source}, but it works until {end.isoformat()} ({_span(end - at)} away), longer than "
                f"the {known} {_span(bound)} a short-lived {cred.rule_id} lives: counted as static",))
        return Lifetime("short-lived", end)
    intrinsic = [t for t, where in expiry_evidence(cred, decls) if where in INTRINSIC]
    if intrinsic and end <= later(at, grace):
        return Lifetime("short-lived", end)
    if not intrinsic:
        return Lifetime("static", end, note=(
            f"stated to expire {end.isoformat()}, but nothing shows that a {cred.rule_id} expires "
            "(declare its lifetime): counted as static"))
    return Lifetime("static", end)
