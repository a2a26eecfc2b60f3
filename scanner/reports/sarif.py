"""SARIF 2.1.0 report, for GitHub code scanning and other SARIF consumers: one result per
location of every credential, rule metadata from the catalogue (name, help link, severity as
`security-severity`), `partialFingerprints` from the secret's SHA-256 so that an alert follows the
secret, not the line. Messages carry the redacted preview only, never the plaintext."""

from __future__ import annotations

import hashlib
import json

from scanner import __version__
from scanner.gate import catalogue, severity
from scanner.model import Location, ScanResult, fingerprint_json

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}
FILE_SOURCES = ("git", "file")


def _location(loc: Location, bases: dict[str, str]) -> dict[str, object]:
    if loc.source in FILE_SOURCES:
        artifact: dict[str, object] = {"uri": loc.path}
        if bases:       # several repositories: each path is relative to its own one
            artifact["uriBaseId"] = bases[loc.container]
            artifact["properties"] = {"repository": loc.container}
        physical: dict[str, object] = {"artifactLocation": artifact}
        if loc.line:
            physical["region"] = {"startLine": loc.line}
        return {"physicalLocation": physical}
    name = f"{loc.source}:{loc.container}/{loc.path}" if loc.container else f"{loc.source}:{loc.path}"
    return {"logicalLocations": [{"fullyQualifiedName": name, "kind": "resource"}]}


def _bases(result: ScanResult) -> dict[str, str]:
    """One `uriBaseId` per repository or scanned folder when there are several (else none: a
    single repository's paths stay plain, as code scanning expects)."""
    containers = sorted({loc.container for c in result.credentials for loc in c.locations
                         if loc.source in FILE_SOURCES})
    if len(containers) < 2:
        return {}
    return {name: f"REPO{i}" for i, name in enumerate(containers)}


def as_dict(result: ScanResult) -> dict[str, object]:
    rules = catalogue(result)
    bases = _bases(result)
    used = sorted({c.rule_id for c in result.credentials})
    index = {rid: i for i, rid in enumerate(used)}
    descriptors = []
    for rid in used:
        rule = rules.get(rid)
        sev = rule.severity if rule else "high"
        d: dict[str, object] = {
            "id": rid,
            "name": rid.replace(".", "/"),
            "shortDescription": {"text": rule.name if rule else rid},
            "fullDescription": {"text": f"{rule.name if rule else rid} ({rule.provider if rule else ''}"
                                        f" credential, {rule.lifetime_hint if rule else 'static'})"},
            "defaultConfiguration": {"level": LEVEL[sev]},
            "help": {"text": "Revoke or rotate the credential at the provider, then remove every "
                             "copy (history included) and load it from a secret store."},
            "properties": {"tags": ["security", "secret", rule.provider if rule else "unknown"],
                           "security-severity": SECURITY_SEVERITY[sev], "precision": "high"},
        }
        if rule and rule.references:
            d["helpUri"] = rule.references[0]
        descriptors.append(d)
    results = []
    for cred in result.credentials:
        sev = severity(cred, rules)
        for loc in cred.locations:
            where = hashlib.sha256(json.dumps(loc.to_json(), sort_keys=True).encode()).hexdigest()
            props: dict[str, object] = {"provider": cred.provider, "state": loc.state,
                                        "source": loc.source, "copies": len(cred.locations),
                                        **fingerprint_json(cred.fingerprint, cred.keyed)}
            for k, v in (("repository", loc.container if loc.source == "git" else ""),
                         ("container", loc.container if loc.source != "git" else ""),
                         ("commit", loc.commit or ""), ("url", loc.url or "")):
                if v:
                    props[k] = v
            results.append({
                "ruleId": cred.rule_id,
                "ruleIndex": index[cred.rule_id],
                "level": LEVEL[sev],
                "message": {"text": f"{rules[cred.rule_id].name if cred.rule_id in rules else cred.rule_id}"
                                    f" {cred.redacted} ({cred.provider}, {loc.state} copy, "
                                    f"{len(cred.locations)} cop{'y' if len(cred.locations) == 1 else 'ies'} in all;"
                                    f" {'keyed' if cred.keyed else 'sha256'} {cred.fingerprint[:16]})"},
                "locations": [_location(loc, bases)],
                "partialFingerprints": {("secretHmac/v1" if cred.keyed else "secretSha256/v1"): cred.fingerprint,
                                        "secretLocation/v1": where},
                "properties": props,
            })
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "sprawlscan", "version": __version__,
                                "informationUri": "https://github.com/sprawlscan/sprawlscan",
                                "rules": descriptors}},
            "invocations": [{
                "executionSuccessful": not result.incomplete,
                "toolExecutionNotifications": [
                    *({"level": "error", "message": {"text": reason}} for reason in result.stats.errors),
                    *({"level": "warning", "message": {"text": note}} for note in result.stats.warnings)],
            }],
            "results": results,
            **({"originalUriBaseIds": {
                base: {"description": {"text": f"repository or folder {name}"}, "properties": {"repository": name}}
                for name, base in bases.items()}} if bases else {}),
            "properties": {"summary": result.stats.to_json()},
        }],
    }


def render(result: ScanResult) -> str:
    return json.dumps(as_dict(result), indent=2) + "\n"
