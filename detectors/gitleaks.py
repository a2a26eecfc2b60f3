"""Import of gitleaks-style rule configs, so teams can bring their existing configs (the stock
`gitleaks.toml` included): each `[[rules]]` table (`id`, `description`, `regex`, `secretGroup`,
`entropy`, `keywords`, `path`, `allowlists`) becomes a table of our format; the loader marks the
rules `origin="gitleaks"`, for which examples are optional. Go RE2 syntax is close to the `regex`
module's; the few differences are rewritten.

Allowlists are kept: the global `[allowlist]` / `[[allowlists]]` (`targetRules` honoured) and each
rule's `[[rules.allowlists]]` / `[rules.allowlist]` (`regexes` with `regexTarget` secret, match or
line; `paths`; `stopwords`; `commits`; `condition` OR / AND) become the rule's `allowlists`
(`detectors.allowlist` applies them). A rule's `path` limits it to matching file paths. A
path-only rule (no `regex`: it flags a file by its name) has no content to match: it is skipped
and counted (`ConvertedConfig.skipped`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

_GO_ONLY = ((regex.compile(r"\\z"), r"\\Z"),)
_TARGETS = {"secret", "match", "line"}


@dataclass(slots=True)
class ConvertedConfig:
    """A gitleaks config in our table format."""

    tables: list[dict[str, object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Ids of path-only rules, which cannot be imported."""


def go_regex(pattern: str) -> str:
    for go, ours in _GO_ONLY:
        pattern = go.sub(ours, pattern)
    return pattern


def convert_allowlist(t: object, where: str) -> dict[str, object]:
    """One gitleaks allowlist table as ours; raises ValueError naming what is wrong."""
    if not isinstance(t, dict):
        raise ValueError(f"{where}: allowlist is not a table")
    out: dict[str, object] = {}
    for key in ("regexes", "paths", "stopwords", "commits"):
        value = t.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: allowlist {key!r} must be a list of strings")
        if value:
            out[key] = list(value) if key in ("stopwords", "commits") else [go_regex(v) for v in value]
    target = str(t.get("regexTarget", "secret") or "secret")
    if target not in _TARGETS:
        raise ValueError(f"{where}: allowlist regexTarget must be one of {sorted(_TARGETS)}")
    condition = str(t.get("condition", "OR") or "OR").upper()
    if condition not in ("OR", "AND"):
        raise ValueError(f"{where}: allowlist condition must be OR or AND")
    out["target"], out["condition"] = target, condition
    return out


def _allowlists_of(t: dict[str, object], key_many: str, key_one: str) -> list[object]:
    many = t.get(key_many, [])
    found = list(many) if isinstance(many, list) else [many]
    if isinstance(t.get(key_one), dict):
        found.append(t[key_one])
    return found


def convert_gitleaks(doc: dict[str, object]) -> ConvertedConfig:
    """A parsed gitleaks config → our tables, one error per table that cannot be converted, and
    the ids of the path-only rules skipped."""
    conv = ConvertedConfig()
    global_lists: list[tuple[dict[str, object], tuple[str, ...]]] = []
    for i, a in enumerate(_allowlists_of(doc, "allowlists", "allowlist")):
        try:
            targets = a.get("targetRules", []) if isinstance(a, dict) else []
            global_lists.append((convert_allowlist(a, f"global allowlist #{i + 1}"),
                                 tuple(targets) if isinstance(targets, list) else ()))
        except ValueError as exc:
            conv.errors.append(str(exc))
    tables = doc.get("rules")
    for i, t in enumerate(tables if isinstance(tables, list) else []):
        where = f"rule #{i + 1} ({t.get('id', '?') if isinstance(t, dict) else '?'})"
        if not isinstance(t, dict):
            conv.errors.append(f"{where}: not a table")
            continue
        if not isinstance(t.get("id"), str) or not t["id"]:
            conv.errors.append(f"{where}: field 'id' is required (a string)")
            continue
        if not t.get("regex") and isinstance(t.get("path"), str):
            conv.skipped.append(t["id"])  # path-only: flags a file name, not content
            continue
        if not isinstance(t.get("regex"), str) or not t["regex"]:
            conv.errors.append(f"{where}: no 'regex'")
            continue
        table: dict[str, object] = {
            "id": t["id"], "provider": "custom", "name": str(t.get("description", t["id"])),
            "pattern": go_regex(t["regex"]), "keywords": t.get("keywords", []),
            "min_entropy": t.get("entropy", 0.0), "references": [],
        }
        if "secretGroup" in t:
            table["secret_group"] = t["secretGroup"]
        if not isinstance(t.get("secretGroup", 0), int):
            conv.errors.append(f"{where}: secretGroup must be an integer")
            continue
        if isinstance(t.get("path"), str):
            table["path"] = go_regex(t["path"])
        try:
            lists = [convert_allowlist(a, where) for a in _allowlists_of(t, "allowlists", "allowlist")]
        except ValueError as exc:
            conv.errors.append(str(exc))
            continue
        lists += [a for a, targets in global_lists if not targets or t["id"] in targets]
        if lists:
            table["allowlists"] = lists
        conv.tables.append(table)
    return conv
