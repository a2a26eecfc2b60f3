"""What the Jira and Confluence sources share: building an atlassian-python-api client from the
environment, calling it with bounded retries, and turning failures into one-line reasons.

Auth: `<PREFIX>_USER` + `<PREFIX>_TOKEN` is Cloud style (email + API token, HTTP basic);
`<PREFIX>_TOKEN` alone is Server / Data Center style (personal access token, `Bearer`); neither is
anonymous. Rate limits: a 429 or 503 is retried after its `Retry-After` (capped at `MAX_WAIT`
seconds; exponential backoff without the header), at most `MAX_ATTEMPTS` times in all. Messages
name the service, the unit and the HTTP status, never a token or a response body."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests

from scanner.errors import ConfigError
from scanner.sources.http_guard import OffHostRefused, PinnedSession

T = TypeVar("T")
MAX_ATTEMPTS = 4
MAX_WAIT = 60.0
RETRY_STATUS = (429, 503)
TIMEOUT = 30


class Rejected(Exception):
    """The service refused the credentials (401/403): nothing more can be read."""


class UnitFailed(Exception):
    """One unit (a page of results, a comment list, an attachment) could not be read."""


def credentials(prefix: str, fallback: str | None = None) -> dict[str, str]:
    """Client keyword arguments for the auth style the environment provides."""
    env = os.environ
    user = env.get(f"{prefix}_USER") or (env.get(f"{fallback}_USER") if fallback else None)
    token = env.get(f"{prefix}_TOKEN") or (env.get(f"{fallback}_TOKEN") if fallback else None)
    if user and token:
        return {"username": user, "password": token}
    if token:
        return {"token": token}
    return {}


def make_client(cls: Callable[..., T], url: str, prefix: str, fallback: str | None = None,
                **kwargs: Any) -> T:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{prefix.lower()}:{url}: the URL must start with http:// or https://")
    # the library's own retries are off: `call` retries with a bound and a cap on Retry-After
    # the credentials go to the configured site only (not to `_links.next` or an attachment
    # `content` URL on another host, nor across a redirect)
    return cls(url.rstrip("/"), timeout=TIMEOUT, backoff_and_retry=False, retry_with_header=False,
               session=PinnedSession(url), **credentials(prefix, fallback), **kwargs)


def get_json(client: Any, path: str, **kwargs: Any) -> Callable[[], dict[str, Any]]:
    """A request for `call`: GET `path`, the answer must be a JSON object."""
    def run() -> dict[str, Any]:
        answer = client.get(path, **kwargs)
        if not isinstance(answer, dict):
            raise ValueError("not a JSON object")  # noqa: TRY004 - call() reports it as bad JSON
        return answer
    return run


def retry_after(response: requests.Response | None, attempt: int) -> float:
    """Seconds to wait before retrying: the server's `Retry-After` (seconds or a date), capped."""
    raw = response.headers.get("Retry-After") if response is not None else None
    wait: float | None = None
    if raw:
        try:
            wait = float(raw)
        except ValueError:
            try:
                wait = parsedate_to_datetime(raw).timestamp() - time.time()
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        wait = 0.5 * 2 ** attempt
    return min(max(wait, 0.0), MAX_WAIT)


def call(fn: Callable[[], T], service: str, unit: str, *,
         sleep: Callable[[float], None] = time.sleep) -> T:
    """Run one request; retry rate limits; raise `Rejected` or `UnitFailed` with a clean line."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return fn()
        except requests.HTTPError as exc:
            response = exc.response
            status = response.status_code if response is not None else 0
            if status in (401, 403):
                raise Rejected(f"{service} rejected the credentials: {status}") from None
            if status in RETRY_STATUS and attempt + 1 < MAX_ATTEMPTS:
                sleep(retry_after(response, attempt))
                continue
            if status in RETRY_STATUS:
                raise UnitFailed(f"{service}: {unit}: still rate limited ({status}) after "
                                 f"{MAX_ATTEMPTS} attempts") from None
            raise UnitFailed(f"{service}: {unit}: HTTP {status or 'error'}") from None
        except OffHostRefused as exc:
            raise UnitFailed(f"{service}: {unit}: {exc}") from None
        except requests.RequestException as exc:
            raise UnitFailed(f"{service}: {unit}: {type(exc).__name__}") from None
        except ValueError:
            raise UnitFailed(f"{service}: {unit}: response is not valid JSON") from None
    raise AssertionError("unreachable")  # pragma: no cover
