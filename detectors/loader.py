"""How rule files become rules: parse TOML, check each rule's shape, and return `Rule` records.
Two formats: ours (`[[rule]]` tables, examples required) and a gitleaks config (`[[rules]]` with
`id`, `regex`, `keywords`, `entropy`, `secretGroup`; converted by `detectors.gitleaks`). A file
with bad rules is refused with one message naming every bad rule id.
`detectors.check` runs every example and negative example through an engine."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import regex

from detectors import cache as rules_cache
from detectors.rule import CATEGORIES, Allowlist, Rule
from detectors.validators import VALIDATORS
from scanner.errors import ConfigError

_FIELDS = {"id", "provider", "name", "pattern", "keywords", "min_entropy", "validators",
           "lifetime_hint", "examples", "negative_examples", "references", "severity", "allow_runs",
           "category"}
_IMPORTED = {"secret_group", "path", "allowlists"}
"""Fields only the gitleaks converter sets."""
_LIFETIMES = {"static", "short-lived"}
_SEVERITIES = {"low", "medium", "high", "critical"}


PATH_ONLY_SKIPPED: dict[str, tuple[str, ...]] = {}
"""Rule file → ids of the gitleaks path-only rules it holds, skipped at its last parse (they flag
a file by name and have no content to match); `skipped_path_only` counts them."""


def skipped_path_only(paths: list[Path]) -> list[str]:
    """`file: id` of every path-only gitleaks rule skipped in these rule files (a file the rules
    cache answered for is read again for them)."""
    out = []
    for p in paths:
        if str(p) not in PATH_ONLY_SKIPPED:
            try:
                doc = tomllib.loads(Path(p).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                doc = {}
            tables = doc.get("rules") if "rule" not in doc else None
            PATH_ONLY_SKIPPED[str(p)] = tuple(
                str(t.get("id")) for t in (tables if isinstance(tables, list) else [])
                if isinstance(t, dict) and not t.get("regex") and isinstance(t.get("path"), str))
        out += [f"{p}: {i}" for i in PATH_ONLY_SKIPPED[str(p)]]
    return out


def builtin_rule_files() -> list[Path]:
    root = resources.files("detectors") / "rules"
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def load_rules(paths: list[Path] | None = None, *, builtin: bool = True,
               cache: bool = True) -> list[Rule]:
    """Built-in rules (unless `builtin=False`) plus the given files; duplicate ids are an error.
    With `cache`, rules loaded before from the very same files come from `detectors.cache`."""
    files = (builtin_rule_files() if builtin else []) + list(paths or [])
    key = rules_cache.rules_key(files) if cache else None
    if key is not None and (hit := rules_cache.read_rules(key)) is not None:
        return hit
    rules = _load(files)
    if key is not None:
        rules_cache.write_rules(key, rules)
    return rules


def _load(files: list[Path]) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in files:
        for rule in parse_rule_file(path):
            if rule.id in seen:
                raise ConfigError(f"{path}: rule id {rule.id!r} already defined in {seen[rule.id]}")
            seen[rule.id] = str(path)
            rules.append(rule)
    return rules


def parse_rule_file(path: Path) -> list[Rule]:
    from scanner.parsing import read_small_text

    try:
        doc = tomllib.loads(read_small_text(path, "rule file"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if "rule" not in doc and isinstance(doc.get("rules"), list):
        from detectors.gitleaks import convert_gitleaks

        conv = convert_gitleaks(doc)
        tables, errors, imported = conv.tables, conv.errors, True
        PATH_ONLY_SKIPPED[str(path)] = tuple(conv.skipped)
    else:
        ours, errors, imported = doc.get("rule"), [], False
        if not isinstance(ours, list) or not ours:
            raise ConfigError(f"{path}: no [[rule]] tables (nor a gitleaks [[rules]] config)")
        tables = ours
    rules = []
    for i, t in enumerate(tables):
        try:
            rules.append(_rule_from_table(path, i, t, imported=imported))
        except ConfigError as exc:
            errors.append(str(exc).removeprefix(f"{path}: "))
    if len(errors) == 1:
        raise ConfigError(f"{path}: {errors[0]}")
    if errors:
        raise ConfigError(f"{path}: {len(errors)} bad rules: " + "; ".join(errors))
    return rules


def _rule_from_table(path: Path, index: int, t: dict[str, object], *, imported: bool = False) -> Rule:
    """One rule; `imported` (a converted gitleaks rule) waives the examples and keywords
    requirements, and only the format of the file decides it."""
    where = f"{path}: rule #{index + 1} ({t.get('id', '?')})"
    unknown = set(t) - _FIELDS - (_IMPORTED if imported else set())
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("id", "provider", "pattern"):
        if not isinstance(t.get(key), str) or not t[key]:
            raise ConfigError(f"{where}: field {key!r} is required (a string)")
    try:
        compiled = regex.compile(str(t["pattern"]))
    except regex.error as exc:
        raise ConfigError(f"{where}: pattern does not compile ({exc})") from None
    group = t.get("secret_group")
    if imported and isinstance(group, int):
        if group > compiled.groups or group < 0:
            raise ConfigError(f"{where}: secretGroup {group} but the regex has {compiled.groups} group(s)")
    elif imported:
        pass  # gitleaks default: group 1 when there is one, else the whole match
    elif compiled.groups < 1:
        raise ConfigError(f"{where}: pattern has no capture group for the secret")
    elif compiled.groups > 1 and "secret" not in compiled.groupindex:
        raise ConfigError(f"{where}: pattern has several groups but none named 'secret'")
    validators = tuple(_str_list(t, "validators", where))
    for name in validators:
        if name not in VALIDATORS:
            raise ConfigError(f"{where}: unknown validator {name!r}")
    keywords = tuple(_str_list(t, "keywords", where))
    if not keywords and not imported:
        raise ConfigError(f"{where}: at least one keyword is required (it drives the prefilter)")
    lifetime = str(t.get("lifetime_hint", "static"))
    if lifetime not in _LIFETIMES:
        raise ConfigError(f"{where}: lifetime_hint must be one of {sorted(_LIFETIMES)}")
    severity = str(t.get("severity", "high"))
    if severity not in _SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {sorted(_SEVERITIES)}")
    category = str(t.get("category", "other"))
    if category not in CATEGORIES:
        raise ConfigError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
    examples = tuple(_str_list(t, "examples", where))
    if not examples and not imported:
        raise ConfigError(f"{where}: a rule needs at least one example")
    if not isinstance(t.get("allow_runs", False), bool):
        raise ConfigError(f"{where}: allow_runs must be true or false")
    rule_path = t.get("path")
    allowlists = []
    try:
        if rule_path is not None:
            regex.compile(str(rule_path))
        for a in t.get("allowlists", []) or []:  # type: ignore[attr-defined]
            for p in [*a.get("regexes", []), *a.get("paths", [])]:
                regex.compile(p)
            allowlists.append(Allowlist(tuple(a.get("regexes", [])), str(a.get("target", "secret")),
                                        tuple(a.get("paths", [])), tuple(a.get("stopwords", [])),
                                        str(a.get("condition", "OR")), tuple(a.get("commits", []))))
    except regex.error as exc:
        raise ConfigError(f"{where}: allowlist or path pattern does not compile ({exc})") from None
    try:
        min_entropy = float(t.get("min_entropy", 0.0))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: min_entropy must be a number") from None
    return Rule(
        id=str(t["id"]), provider=str(t["provider"]), name=str(t.get("name", t["id"])),
        pattern=str(t["pattern"]), keywords=keywords, min_entropy=min_entropy,
        validators=validators, lifetime_hint=lifetime, examples=examples,
        negative_examples=tuple(_str_list(t, "negative_examples", where)),
        references=tuple(_str_list(t, "references", where)), severity=severity,
        source_file=str(path), secret_group=group if isinstance(group, int) else None,
        origin="gitleaks" if imported else "sprawlscan", allow_runs=t.get("allow_runs") is True,
        category=category,
        path=str(rule_path) if rule_path is not None else None, allowlists=tuple(allowlists),
    )


def _str_list(t: dict[str, object], key: str, where: str) -> list[str]:
    value = t.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: field {key!r} must be a list of strings")
    return list(value)
