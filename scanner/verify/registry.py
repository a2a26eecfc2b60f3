"""Verification stage, the registry and the run: rule id → verifier (the `SPECS` table and the
`SPECIALS`), the base URL each one may send to (documented, or `--verify-endpoint`, or the forge
URL given for the crawl), and `verify_all`, which asks the providers about a scan's credentials:
once per credential, a bounded number at a time, reusing recorded answers within the TTL.
Plaintexts come in from the scan (memory only) and never leave this module but towards their own
provider's host."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from scanner.model import Credential
from scanner.verify.base import Client, Verification, VerifyOptions, check_base, now_iso
from scanner.verify.providers import SPECS, run_spec
from scanner.verify.special import SPECIALS

Run = Callable[[Client, str, str, str, Mapping[str, str]], Verification]


@dataclass(frozen=True, slots=True)
class Entry:
    """A verifier as `rules list --verifiers` shows it."""

    provider: str
    """Verifier name (`openai-admin`)."""
    endpoint: str
    """The `--verify-endpoint` key that replaces its base (`openai`)."""
    rules: tuple[str, ...]
    base: str | None
    calls: str
    docs: str
    run: Run


def _entries() -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    for spec in SPECS:
        run: Run = partial(lambda s, c, b, r, x, cap: run_spec(s, c, b, r, x, cap), spec)
        out[spec.provider] = Entry(spec.provider, spec.provider.split("-")[0], spec.rules, spec.base,
                                   spec.call(), spec.docs, run)
    for sp in SPECIALS:
        out[sp.provider] = Entry(sp.provider, sp.provider.split("-")[0], sp.rules, sp.base, sp.calls,
                                 sp.docs, sp.run)
    return out


VERIFIERS: dict[str, Entry] = _entries()
BY_RULE: dict[str, Entry] = {r: e for e in VERIFIERS.values() for r in e.rules}
ENDPOINT_KEYS: frozenset[str] = frozenset(e.endpoint for e in VERIFIERS.values())
FORGE_URLS = {"github": "github_url", "gitlab": "gitlab_url"}
"""`--github-url` / `--gitlab-url` (ScanOptions.extra keys) also say where GitHub/GitLab tokens go."""


def base_for(entry: Entry, options: VerifyOptions, extra: Mapping[str, str] | None = None) -> str | None:
    configured = options.endpoints.get(entry.endpoint)
    if configured:
        return configured
    forge = FORGE_URLS.get(entry.endpoint)
    if forge and extra and extra.get(forge):
        return check_base(extra[forge], f"--{forge.replace('_', '-')}")
    return entry.base


Secret = tuple[str, Mapping[str, str]]
"""A credential's plaintext and its non-secret captures (an AWS key id), memory only."""


def verify_one(client: Client, cred: Credential, secret: Secret | None, options: VerifyOptions,
               extra: Mapping[str, str] | None = None) -> Verification:
    entry = BY_RULE.get(cred.rule_id)
    if entry is None:
        return Verification("unknown", now_iso(), detail=f"no verifier for {cred.rule_id}")
    base = base_for(entry, options, extra)
    if base is None:
        return Verification("unknown", now_iso(), detail=f"{entry.provider} has no public API host: "
                            f"give --verify-endpoint {entry.endpoint}=URL", verifier=entry.provider)
    if secret is None:
        return Verification("error", now_iso(), detail="the value was not read in this run (a datastore "
                            "record carries no plaintext): scan its sources", verifier=entry.provider)
    return entry.run(client, base, cred.rule_id, secret[0], secret[1])


def verify_all(credentials: tuple[Credential, ...] | list[Credential], secrets: Mapping[str, Secret],
               options: VerifyOptions, extra: Mapping[str, str] | None = None) -> dict[str, Verification]:
    """fingerprint → Verification for every credential: reused from `options.known` when recorded
    within the TTL, else asked (at most `options.concurrency` requests in flight)."""
    out: dict[str, Verification] = {}
    todo = []
    for cred in credentials:
        known = options.known.get(cred.fingerprint)
        if known is not None:
            out[cred.fingerprint] = known
        else:
            todo.append(cred)
    if not todo:
        return out
    client = Client(options)
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
            futures = {c.fingerprint: pool.submit(verify_one, client, c, secrets.get(c.fingerprint),
                                                  options, extra) for c in todo}
            for fp, fut in futures.items():
                out[fp] = fut.result()
    finally:
        client.close()
    return out
