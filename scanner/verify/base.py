"""Verification stage, records and transport: what a provider said about one credential
(`Verification`, `Identity`), the settings of a verifying run (`VerifyOptions`), and the only HTTP
client that ever carries a credential (`Client`). The client sends to one pinned base URL (the
provider's documented host or the endpoint the user configured), over HTTPS unless that endpoint is
loopback, never follows a redirect (a redirect is an `error`: the credential could be replayed to
another host), honours 429 `Retry-After` within a cap, times out, and reads at most 1 MiB."""

from __future__ import annotations

import datetime as dt
import ipaddress

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from scanner.errors import ConfigError
from scanner.parsing import json_loads

STATUSES = ("valid", "invalid", "unknown", "error")
KINDS = ("user", "bot", "app", "service-account", "project", "org", "unknown")
MAX_BODY = 1 << 20
MAX_ATTEMPTS = 3
"""A 429 is retried (after `Retry-After`) at most twice: still one credential, one question."""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class Identity:
    """Whose the credential is, as the provider says."""

    id: str | None
    """The provider's id of the principal (user id, account ARN, app id)."""
    name: str | None
    """Its login or display name."""
    kind: str = "unknown"
    """`user`, `bot`, `app`, `service-account`, `project`, `org` or `unknown`."""
    human: bool | None = None
    """True: a person; False: a machine principal; None: the provider does not say."""

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "human": self.human}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Identity:
        kind = d.get("kind") if d.get("kind") in KINDS else "unknown"
        human = d.get("human") if isinstance(d.get("human"), bool) else None
        return cls(_str(d.get("id")), _str(d.get("name")), str(kind), human)


@dataclass(frozen=True, slots=True)
class Verification:
    """The provider's answer about one credential (never the value)."""

    status: str
    """`valid`, `invalid` (the provider rejected it), `unknown` (no verifier for the rule, or
    nothing to send it to) or `error` (could not tell: network, 5xx, redirect, timeout)."""
    checked_at: str
    """When the provider was asked (ISO-8601 UTC)."""
    identity: Identity | None = None
    """Whose it is, when the provider says."""
    scopes: tuple[str, ...] = ()
    """Scopes or policies the provider reports."""
    expires_at: str | None = None
    """When the provider says the credential stops working (ISO-8601), or None."""
    detail: str = ""
    """One line: what was asked where, and what came back."""
    verifier: str = ""
    """The verifier's provider key (`github`), empty when there is none."""
    reused: bool = False
    """Taken from the datastore (a `verified` event within `--verify-ttl`), not asked again."""
    listing: tuple[tuple[str, str], ...] = ()
    """What an admin listing says about the key (`--admin-token`): owner, project, created_at..."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "status": self.status, "checked_at": self.checked_at,
            "identity": self.identity.to_json() if self.identity else None,
            "scopes": list(self.scopes), "expires_at": self.expires_at, "detail": self.detail,
        }
        if self.verifier:
            out["verifier"] = self.verifier
        if self.reused:
            out["reused"] = True
        if self.listing:
            out["listing"] = dict(self.listing)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], *, reused: bool = False) -> Verification:
        ident = d.get("identity")
        listing = d.get("listing")
        raw = d.get("scopes")
        scopes: list[Any] = raw if isinstance(raw, list) else []
        return cls(str(d.get("status", "error")), str(d.get("checked_at", "")),
                   Identity.from_json(ident) if isinstance(ident, dict) else None,
                   tuple(str(s) for s in scopes), _str(d.get("expires_at")), str(d.get("detail", "")),
                   str(d.get("verifier", "")), reused,
                   tuple((str(k), str(v)) for k, v in listing.items()) if isinstance(listing, dict) else ())


def _str(v: object) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """How a verifying run asks the providers."""

    endpoints: Mapping[str, str] = field(default_factory=dict)
    """Provider key → base URL replacing the documented one (`--verify-endpoint`)."""
    timeout: float = 10.0
    """Seconds per request (connect and read)."""
    concurrency: int = 4
    """Requests in flight at once."""
    max_retry_wait: float = 30.0
    """Longest `Retry-After` honoured; a longer one makes the result `error`."""
    ttl: dt.timedelta = dt.timedelta(hours=24)
    """A recorded verification younger than this is reused, not asked again."""
    known: Mapping[str, Verification] = field(default_factory=dict)
    """Fingerprint → recorded verification still within the TTL (from the datastore)."""
    admin: Mapping[str, str] = field(default_factory=dict)
    """Provider → admin token (`--admin-token`, read from the environment; memory only)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base(base: str, what: str) -> str:
    """A base URL a credential may go to: https, or http on a loopback address; no userinfo,
    query or fragment. Gives it without a trailing slash."""
    parts = urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{what}: not an http(s) URL: {base!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"{what}: credentials are sent over HTTPS only (plain http only to a "
                          f"loopback address): {base!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"{what}: a base URL carries no user, query or fragment: {base!r}")
    return base.rstrip("/")


def parse_endpoints(values: tuple[str, ...] | list[str], known: set[str]) -> dict[str, str]:
    """`--verify-endpoint PROVIDER=BASE_URL` values → {provider: base}."""
    out: dict[str, str] = {}
    for v in values:
        provider, sep, url = v.partition("=")
        provider = provider.strip().lower()
        if not sep or not provider or not url:
            raise ConfigError(f"--verify-endpoint: expected PROVIDER=BASE_URL, got {v!r}")
        if provider not in known:
            raise ConfigError(f"--verify-endpoint: no verifier for provider {provider!r} "
                              f"(see `sprawlscan rules list --verifiers`)")
        out[provider] = check_base(url.strip(), f"--verify-endpoint {provider}")
    return out


def parse_duration(value: str, what: str) -> dt.timedelta:
    """`24h`, `90m`, `2d`, `3600s` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    v = value.strip().lower()
    try:
        n = float(v[:-1]) * units[v[-1]] if v and v[-1] in units else float(v)
    except ValueError:
        raise ConfigError(f"{what}: not a duration: {value!r} (e.g. 24h, 90m, 2d)") from None
    if n < 0:
        raise ConfigError(f"{what}: must not be negative: {value!r}")
    return dt.timedelta(seconds=n)


class Unverifiable(Exception):
    """The provider could not be asked or gave no usable answer: status `error`."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider's HTTP answer (body capped at 1 MiB)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    host: str

    def json(self) -> Any:
        try:
            return json_loads(self.body)
        except ValueError:  # malformed, or nested deeper than scanner.parsing.MAX_DEPTH
            raise Unverifiable(f"{self.host}: HTTP {self.status} with a body that is not JSON") from None

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def retry_after(value: str | None) -> float:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date); 1 when absent."""
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
        return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return 1.0


class Client:
    """The one way a credential leaves the process: to `base` and nowhere else."""

    def __init__(self, options: VerifyOptions) -> None:
        import requests  # here: importing it costs every scan ~60 ms, and few scans verify

        self.options = options
        self.session = requests.Session()
        # no proxy, netrc or CA settings picked up from the environment: the credential goes to
        # the pinned host only (a proxy is configured explicitly with --verify-endpoint)
        self.session.trust_env = False

    def close(self) -> None:
        self.session.close()

    def send(self, base: str, method: str, path: str, *, headers: Mapping[str, str] | None = None,
             data: Any = None, auth: tuple[str, str] | None = None) -> Reply:
        base = check_base(base, "endpoint")
        url = base + path
        pinned = urlsplit(base)
        target = urlsplit(url)
        if (target.scheme, target.netloc) != (pinned.scheme, pinned.netloc):
            raise Unverifiable(f"refused: {path!r} leaves {pinned.netloc}")
        import requests

        for attempt in range(MAX_ATTEMPTS):
            try:
                r = self.session.request(method, url, headers=dict(headers or {}), data=data, auth=auth,
                                         timeout=self.options.timeout, allow_redirects=False,
                                         stream=True)
                body = r.raw.read(MAX_BODY, decode_content=True) if r.raw else b""
                r.close()
            except requests.Timeout:
                raise Unverifiable(f"{pinned.netloc}: no answer within {self.options.timeout:g}s") from None
            except (requests.RequestException, OSError) as exc:
                raise Unverifiable(f"{pinned.netloc}: cannot connect ({type(exc).__name__})") from None
            if r.status_code == 429 and attempt + 1 < MAX_ATTEMPTS:
                wait = retry_after(r.headers.get("Retry-After"))
                if wait > self.options.max_retry_wait:
                    raise Unverifiable(f"{pinned.netloc}: rate limited (Retry-After {wait:g}s)")
                time.sleep(wait)
                continue
            if 300 <= r.status_code < 400:
                where = urlsplit(urljoin(url, r.headers.get("Location", ""))).netloc or "?"
                other = "another host " if where != pinned.netloc else ""
                raise Unverifiable(f"{pinned.netloc}: HTTP {r.status_code} redirect to {other}{where} "
                                   "not followed")
            if r.status_code == 429:
                raise Unverifiable(f"{pinned.netloc}: rate limited (HTTP 429) after {MAX_ATTEMPTS} tries")
            return Reply(r.status_code, r.headers, body, pinned.netloc)
        raise AssertionError("unreachable")
