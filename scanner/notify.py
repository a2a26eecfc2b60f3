"""Notifications after a complete scan recorded in the datastore: for every credential that is new
or reappeared since it was last announced on a channel, one webhook JSON POST each, one Slack
message listing them, or one Jira issue each. Never the value: fingerprint, redacted preview,
provider, rule, locations, and (with an inventory, `scanner.graph.owners`) the agents that use
the credential and their owner refs; a Jira issue is assigned to the first owner the inventory's
`people:` map gives a Jira account. Without an inventory, `owners` and `agents` are null
(unknown), never `[]` (which says: no declared agent uses it).

What was announced is the event log's: a delivered notification appends a `notified` event per
credential (subject: the channel kind and a hash of its URL, never the URL itself, which for Slack
is a credential). A credential is pending on a channel while its latest `found` / `reappeared`
event is newer than its latest `notified` event there, so an unchanged rescan sends nothing and a
failed delivery (reported: the scan exits 3) is retried on the next complete scan."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scanner.model import Credential, ScanResult, fingerprint_json

if TYPE_CHECKING:
    from scanner.graph.owners import CredentialOwners
    from scanner.store import Store

Owners = Mapping[str, "CredentialOwners"] | None
"""Fingerprint → who answers for it; None: no inventory, owners unknown."""

TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class Channel:
    """One place notifications go."""

    kind: str
    """`webhook`, `slack` or `jira`."""
    url: str
    """Endpoint (webhook URL, Slack incoming-webhook URL, Jira base URL)."""
    project: str | None = None
    """Jira project key."""

    @property
    def key(self) -> str:
        """How the event log names the channel: kind and a hash of the URL."""
        digest = hashlib.sha256(f"{self.url}#{self.project or ''}".encode()).hexdigest()[:16]
        return f"{self.kind}:{digest}"


def pending(store: Store, result: ScanResult, channel: Channel) -> list[tuple[Credential, str]]:
    """(credential, `new` | `reappeared`) for this scan's credentials not yet announced."""
    wanted = {c.fingerprint: c for c in result.credentials}
    change: dict[str, tuple[int, str]] = {}
    told: dict[str, int] = {}
    for eid, kind, fp, subject in store.conn.execute(
            "SELECT id, kind, fingerprint, subject FROM events WHERE kind IN "
            "('found', 'reappeared', 'notified') ORDER BY id"):
        if fp not in wanted:
            continue
        if kind == "notified":
            if subject == channel.key:
                told[fp] = eid
        else:
            change[fp] = (eid, "new" if kind == "found" else "reappeared")
    return [(wanted[fp], action) for fp, (eid, action) in sorted(change.items())
            if eid > told.get(fp, 0)]


def _owned(cred: Credential, owners: Owners) -> CredentialOwners | None:
    from scanner.graph.owners import CredentialOwners

    return None if owners is None else owners.get(cred.fingerprint, CredentialOwners())


def payload(cred: Credential, action: str, scan_id: int, owners: Owners = None) -> dict[str, Any]:
    owned = _owned(cred, owners)
    return {**fingerprint_json(cred.fingerprint, cred.keyed), "redacted": cred.redacted,
            "provider": cred.provider, "rule_id": cred.rule_id,
            "locations": [loc.to_json() for loc in cred.locations],
            "owners": None if owned is None else list(owned.owners),
            "agents": None if owned is None else list(owned.agents),
            "action": action, "scan_id": scan_id}


def _who(owned: CredentialOwners | None) -> str:
    if owned is None:
        return "owners unknown (scanned without --inventory)"
    if not owned.owners:
        return "no owner: no agent of the inventory uses it"
    return "owners " + ", ".join(owned.owners)


def _jira_fields(channel: Channel, cred: Credential, action: str, scan_id: int,
                 owners: Owners) -> dict[str, Any]:
    owned = _owned(cred, owners)
    if owned is not None and owned.assignee:
        assigned = f"Assigned to {owned.assignee[0]} ({_who(owned)})."
    elif owned is not None and owned.owners:
        assigned = (f"Unassigned: no owner maps to a Jira account in the inventory's people: "
                    f"({_who(owned)}).")
    else:
        assigned = f"Unassigned: {_who(owned)}."
    fields: dict[str, Any] = {
        "project": {"key": channel.project}, "issuetype": {"name": "Task"},
        "summary": f"Exposed {cred.provider} credential {cred.redacted} ({action})",
        "description": assigned + "\n\n" + json.dumps(payload(cred, action, scan_id, owners), indent=2),
        "labels": ["sprawlscan"]}
    if owned is not None and owned.assignee:
        fields["assignee"] = {"accountId": owned.assignee[1]}  # Jira Cloud: users by account id
    return {"fields": fields}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib re-sends a redirected POST as a GET with the same headers, Authorization included,
    to whatever host the answer names: a redirect is a failed delivery instead."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirect refused: {msg}", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with _OPENER.open(req, timeout=TIMEOUT_S) as resp:  # http(s) only: the URLs are checked
        resp.read()


def _jira_headers() -> dict[str, str]:
    user, token = os.environ.get("JIRA_USER"), os.environ.get("JIRA_TOKEN")
    if user and token:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}
    return {"Authorization": f"Bearer {token}"} if token else {}


def _where(cred: Credential) -> str:
    loc = cred.locations[0] if cred.locations else None
    return f"{loc.container}:{loc.path}" if loc else "?"


def deliver(channel: Channel, items: Sequence[tuple[Credential, str]], scan_id: int,
            owners: Owners = None) -> None:
    """Send; raises OSError / ValueError on a failed delivery."""
    if channel.kind == "webhook":
        for cred, action in items:
            _post(channel.url, payload(cred, action, scan_id, owners))
    elif channel.kind == "slack":
        lines = [f"sprawlscan scan {scan_id}: {len(items)} new or reappeared credential(s)"]
        lines += [f"• {action}: {c.provider} {c.rule_id} {c.redacted} at {_where(c)} "
                  f"({'keyed' if c.keyed else 'sha256'} {c.fingerprint[:12]}); "
                  f"{_who(_owned(c, owners))}" for c, action in items]
        _post(channel.url, {"text": "\n".join(lines)})
    elif channel.kind == "jira":
        for cred, action in items:
            _post(channel.url.rstrip("/") + "/rest/api/2/issue",
                  _jira_fields(channel, cred, action, scan_id, owners), _jira_headers())
    else:
        raise ValueError(f"unknown notification channel {channel.kind}")


def notify(store: Store, scan_id: int, result: ScanResult, channels: Sequence[Channel],
           owners: Owners = None) -> list[str]:
    """Announce pending credentials on every channel after a complete scan; gives one-line
    reasons for failed deliveries (nothing is recorded for them: retried next time). `owners`:
    see `Owners`."""
    if result.incomplete:
        return []
    errors: list[str] = []
    for channel in channels:
        items = pending(store, result, channel)
        if not items:
            continue
        try:
            deliver(channel, items, scan_id, owners)
        except urllib.error.HTTPError as exc:
            errors.append(f"{channel.kind} notification failed (HTTP {exc.code}); "
                          f"{len(items)} credential(s) will be announced on the next scan")
            continue
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            errors.append(f"{channel.kind} notification failed ({reason}); "
                          f"{len(items)} credential(s) will be announced on the next scan")
            continue
        with store.write() as c:
            for cred, action in items:
                store._event(c, "notified", scan_id, cred.fingerprint, channel.key,
                             {"action": action})
    return errors
