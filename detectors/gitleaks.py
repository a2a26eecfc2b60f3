"""Import of gitleaks-style rule configs, so teams can bring their existing custom rules: each
`[[rules]]` table (`id`, `description`, `regex`, `secretGroup`, `entropy`, `keywords`) becomes a
table of our format; the loader marks the rules `origin="gitleaks"`, for which examples are
optional. Go RE2 syntax
is close to the `regex` module's; the few differences are rewritten. Rule-level allowlists and
path-only rules have no equivalent here: a path-only rule is refused by name, allowlists are
ignored (they can only add findings, never hide one)."""

from __future__ import annotations

import regex

_GO_ONLY = ((regex.compile(r"\\z"), r"\\Z"),)


def convert_gitleaks(tables: list[object]) -> tuple[list[dict[str, object]], list[str]]:
    """(tables in our format, one error per table that cannot be converted)."""
    out: list[dict[str, object]] = []
    errors: list[str] = []
    for i, t in enumerate(tables):
        where = f"rule #{i + 1} ({t.get('id', '?') if isinstance(t, dict) else '?'})"
        if not isinstance(t, dict):
            errors.append(f"{where}: not a table")
            continue
        if not isinstance(t.get("id"), str) or not t["id"]:
            errors.append(f"{where}: field 'id' is required (a string)")
            continue
        if not isinstance(t.get("regex"), str) or not t["regex"]:
            errors.append(f"{where}: no 'regex' (path-only gitleaks rules are not supported)")
            continue
        pattern = t["regex"]
        for go, ours in _GO_ONLY:
            pattern = go.sub(ours, pattern)
        table: dict[str, object] = {
            "id": t["id"], "provider": "custom", "name": str(t.get("description", t["id"])),
            "pattern": pattern, "keywords": t.get("keywords", []),
            "min_entropy": t.get("entropy", 0.0), "references": [],
        }
        if "secretGroup" in t:
            table["secret_group"] = t["secretGroup"]
        if not isinstance(t.get("secretGroup", 0), int):
            errors.append(f"{where}: secretGroup must be an integer")
            continue
        out.append(table)
    return out, errors
