"""Source: a live Vault / OpenBao server (`vault:URL`, through hvac, token from `VAULT_TOKEN`).
Gives one chunk per stored value, named by its key (see `vault_export`, whose chunk helpers it
shares, and `scanner.declared`).

Reads: KV secrets under `--vault-path` (`mount` or `mount/sub/path`; default: every KV mount
listed by `sys/mounts`), listed recursively. KV v2: the metadata (`current_version`,
`created_time`, `custom_metadata`...) and every version that is neither deleted nor destroyed,
the current one `live`, older ones `historical` (at most `max_versions` per secret, newest first).
KV v1: the one value, `live`. The mount's KV version comes from `sys/mounts`, or
`sys/internal/ui/mounts/PATH` for tokens that cannot list mounts. Not read: other secret engines
(database, PKI, transit...), policies, auth methods. Locations: source `vault`, container = mount,
path = `agents/x#KEY`; version facts in `Location.attributes`. A 429 / 503 is retried (bounded,
`Retry-After` honoured); a path that fails is named in `stats.errors`; a rejected token ends the
crawl with one line.

Units (`scanner.units`): one per KV mount, listed from `sys/mounts` when the units are listed;
the serial crawl runs the same units in order."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from scanner.errors import ConfigError
from scanner.model import Chunk, ScanStats
from scanner.sources.base import Hit, Unit, scan_chunks
from scanner.sources.http_guard import OffHostRefused, PinnedSession
from scanner.sources.vault_export import kv_metadata, value_chunks

if TYPE_CHECKING:
    from scanner.engine import Engine

T = TypeVar("T")
MAX_ATTEMPTS = 4
MAX_VERSIONS = 20
MAX_WAIT = 30.0


class Rejected(Exception):
    """The token was refused."""


class PathFailed(Exception):
    """One path could not be read."""


class NotFound(Exception):
    """Nothing at this path (404)."""


class VaultLiveSource:
    """KV secrets on one Vault or OpenBao server."""

    def __init__(self, url: str, path: str | None = None, *,
                 max_versions: int = MAX_VERSIONS) -> None:
        import hvac

        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"vault:{url}: the URL must start with http:// or https://")
        self.base = url.rstrip("/")
        self.name = f"vault:{self.base}"
        self.start = (path or "").strip("/")
        self.max_versions = max_versions
        self.client = hvac.Client(url=self.base, token=os.environ.get("VAULT_TOKEN"), timeout=30,
                                  namespace=os.environ.get("VAULT_NAMESPACE") or None,
                                  session=_retrying_session(self.base))
        self.progress: Callable[[str], None] | None = None

    def units(self, stats: ScanStats) -> list[Unit]:
        """One unit per KV mount crawled (`--vault-path`: its one mount); the mounts are
        listed here."""
        try:
            roots = list(self._roots(stats))
        except Rejected as exc:
            stats.errors.append(f"{exc} ({self.base})")
            return []
        except (PathFailed, NotFound) as exc:
            stats.errors.append(str(exc) if isinstance(exc, PathFailed) else f"Vault: {exc}: not found")
            return []
        return [Unit(self.name, f"mount {i}/{len(roots)}", f"{self.name} mount {mount}",
                     (mount, version, sub), repos=())
                for i, (mount, version, sub) in enumerate(roots, 1)]

    def chunks(self, stats: ScanStats) -> Iterator[Chunk]:
        """Every unit in order (what the split scan finds)."""
        for unit in self.units(stats):
            yield from self.mount(unit.data, stats)

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        return scan_chunks(self.mount(unit.data, stats), engine, stats)

    def mount(self, root: tuple[str, int, str], stats: ScanStats) -> Iterator[Chunk]:
        """Every secret under the sub-path of one mount (`root`: mount, KV version, sub-path);
        a rejected token ends the mount with one line."""
        mount, version, sub = root
        done = 0
        try:
            for path in self._walk(mount, version, sub, stats):
                done += 1
                if self.progress and done % 50 == 0:
                    self.progress(f"{self.name}: {mount}: {done} secrets")
                try:
                    yield from self._secret(mount, version, path, stats)
                except PathFailed as exc:
                    stats.errors.append(str(exc))
                except NotFound:
                    if path == sub:  # the --vault-path itself: most likely a typo
                        stats.errors.append(f"Vault: {mount}/{sub}: nothing there")
                    else:  # listed, then gone (deleted meanwhile)
                        stats.skip("vault-not-found")
            if self.progress:
                self.progress(f"{self.name}: {mount}: {done} secrets, done")
        except Rejected as exc:
            stats.errors.append(f"{exc} ({self.base})")

    def _call(self, fn: Callable[[], T], unit: str) -> T:
        """One request (rate limits already retried by the session) with failures as one line."""
        import hvac.exceptions as e

        try:
            answer = fn()
            if not isinstance(answer, dict):  # hvac hands back the response when its JSON failed
                raise PathFailed(f"Vault: {unit}: response is not a JSON object (malformed, or "
                                 "nested too deep)")
            return answer
        except (e.Unauthorized, e.Forbidden) as exc:
            if unit == "list mounts":
                raise
            status = 401 if isinstance(exc, e.Unauthorized) else 403
            raise Rejected(f"Vault rejected the token: {status} on {unit}") from None
        except (e.RateLimitExceeded, e.VaultDown) as exc:
            raise PathFailed(f"Vault: {unit}: still unavailable ({type(exc).__name__}) "
                             f"after {MAX_ATTEMPTS} attempts") from None
        except e.InvalidPath:
            raise NotFound(unit) from None
        except e.VaultError as exc:
            raise PathFailed(f"Vault: {unit}: {type(exc).__name__}") from None
        except OffHostRefused as exc:
            raise PathFailed(f"Vault: {unit}: {exc}") from None
        except requests.RequestException as exc:
            raise PathFailed(f"Vault: {unit}: {type(exc).__name__}") from None

    def _roots(self, stats: ScanStats) -> Iterator[tuple[str, int, str]]:
        """(mount, KV version, sub-path) to crawl."""
        import hvac.exceptions as e

        try:
            mounts = self._call(self.client.sys.list_mounted_secrets_engines, "list mounts")
            table = mounts.get("data", mounts)
            kv = {name.strip("/"): int((info.get("options") or {}).get("version") or 1)
                  for name, info in table.items()
                  if isinstance(info, dict) and info.get("type") in ("kv", "generic")}
        except (e.Unauthorized, e.Forbidden) as exc:
            kv = {}
            if not self.start:
                status = 401 if isinstance(exc, e.Unauthorized) else 403
                raise Rejected(f"Vault rejected the token, or it may not list mounts ({status}); "
                               "give --vault-path") from None
        if not self.start:
            for mount in sorted(kv):
                yield mount, kv[mount], ""
            return
        mount = next((m for m in sorted(kv, key=len, reverse=True)
                      if self.start == m or self.start.startswith(m + "/")), None)
        if mount is None:
            info = self._call(lambda: self.client.adapter.get(
                f"/v1/sys/internal/ui/mounts/{self.start}"), f"mount of {self.start}")
            data = info.get("data", {}) if isinstance(info, dict) else {}
            mount = str(data.get("path", "")).strip("/")
            if not mount or data.get("type") not in ("kv", "generic"):
                raise PathFailed(f"Vault: {self.start}: not under a KV mount")
            kv[mount] = int((data.get("options") or {}).get("version") or 1)
        yield mount, kv[mount], self.start[len(mount):].strip("/")

    def _walk(self, mount: str, version: int, sub: str, stats: ScanStats) -> Iterator[str]:
        """Every secret path under `sub`, depth first; a sub-path that is itself a secret too."""
        kv = self.client.secrets.kv.v2 if version == 2 else self.client.secrets.kv.v1
        prefix = f"{sub}/" if sub else ""
        try:
            listing = self._call(lambda: kv.list_secrets(path=sub, mount_point=mount),
                                 f"list {mount}/{sub}")
        except NotFound:  # nothing below: `sub` may be one secret
            if sub:
                yield sub
            return
        except PathFailed as exc:
            stats.errors.append(str(exc))
            return
        for key in sorted(listing.get("data", {}).get("keys", [])):
            if key.endswith("/"):
                yield from self._walk(mount, version, prefix + key.rstrip("/"), stats)
            else:
                yield prefix + key

    def _secret(self, mount: str, version: int, path: str, stats: ScanStats) -> Iterator[Chunk]:
        if version != 2:
            resp = self._call(lambda: self.client.secrets.kv.v1.read_secret(
                path=path, mount_point=mount), f"read {mount}/{path}")
            yield from value_chunks("vault", mount, path, resp.get("data") or {})
            return
        meta = self._call(lambda: self.client.secrets.kv.v2.read_secret_metadata(
            path=path, mount_point=mount), f"metadata {mount}/{path}")["data"]
        current = int(meta.get("current_version") or 0)
        versions: dict[str, Any] = meta.get("versions") or {}
        shared = {k: v for k, v in meta.items() if k != "versions"}
        readable = sorted((int(n) for n, v in versions.items()
                           if not v.get("destroyed") and not v.get("deletion_time")), reverse=True)
        if len(readable) > self.max_versions:
            stats.skip("old-versions", len(readable) - self.max_versions)
        for n in readable[:self.max_versions]:
            try:
                resp = self._call(partial(self.client.secrets.kv.v2.read_secret_version,
                                          path=path, version=n, mount_point=mount,
                                          raise_on_deleted_version=True),
                                  f"read {mount}/{path} version {n}")
            except PathFailed as exc:
                stats.errors.append(str(exc))
                continue
            data = resp.get("data") or {}
            attrs = kv_metadata({**shared, **(data.get("metadata") or {}), "version": n})
            yield from value_chunks("vault", mount, path, data.get("data") or {},
                                    state="live" if n == current else "historical",
                                    attributes=attrs)


class _CappedRetry(Retry):
    """urllib3's retry, with the server's Retry-After honoured up to `MAX_WAIT` seconds."""

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, MAX_WAIT)


def _retrying_session(base: str) -> requests.Session:
    """A session that retries 429 / 503 (Retry-After honoured, else backoff), bounded."""
    session = PinnedSession(base)  # X-Vault-Token goes to the configured server only
    retry = _CappedRetry(total=MAX_ATTEMPTS - 1, connect=0, read=0, redirect=0,
                         status=MAX_ATTEMPTS - 1, status_forcelist=(429, 503), allowed_methods=None,
                         backoff_factor=0.5, backoff_max=MAX_WAIT,
                         respect_retry_after_header=True, raise_on_status=False)
    session.mount(base + "/", HTTPAdapter(max_retries=retry))
    return session
