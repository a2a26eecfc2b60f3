"""Configuration: the one place that merges defaults < `sprawlscan.toml` < `SPRAWLSCAN_*`
environment variables < command-line flags, and gives `ScanOptions`. Scalars take the highest
layer that sets them; allowlists and excludes are unions (every layer may add, none can remove;
`default_excludes = false` / `--no-default-excludes` drop the built-in exclusions).

`sprawlscan.toml` is looked up from each scanned local target up to its repository root (the
folder holding `.git`), then in the working directory; targets that find different files are an
error. Paths in it are relative to its folder. Unknown tables or keys are refused by name
(`SCHEMA` below is the whole format).

    # sprawlscan.toml
    [scan]
    max_file_size = 10000000
    history = true
    rules = ["rules/acme.toml"]        # our format or a gitleaks config
    exclude = ["generated", "*.lock"]  # added to the default exclusions
    default_excludes = true
    [allowlist]
    fingerprints = ["<sha256 hex>", ...]   # or a unique prefix of at least 12 hex digits
    files = ["allowlist.txt"]          # one fingerprint (or prefix) a line, `#` comments

Environment: SPRAWLSCAN_MAX_FILE_SIZE, SPRAWLSCAN_HISTORY (0/1), SPRAWLSCAN_RULES and
SPRAWLSCAN_ALLOWLIST (paths separated by the OS path separator), SPRAWLSCAN_EXCLUDE (commas)."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ConfigError
from scanner.pipeline import ScanOptions
from scanner.sources.base import DEFAULT_EXCLUDES, DEFAULT_MAX_FILE_SIZE

CONFIG_FILE = "sprawlscan.toml"
_FINGERPRINT = re.compile(r"[0-9a-f]{12,64}")
MIN_PREFIX = 12
SCHEMA: dict[str, dict[str, str]] = {
    "scan": {"max_file_size": "positive integer", "history": "boolean", "rules": "list of strings",
             "exclude": "list of strings", "default_excludes": "boolean"},
    "allowlist": {"fingerprints": "list of strings", "files": "list of strings"},
}
"""The whole sprawlscan.toml format: table → key → the type its value must have."""


@dataclass(frozen=True, slots=True)
class Flags:
    """What the user typed; None means "not given"."""

    max_file_size: int | None = None
    """`--max-file-size`."""
    no_history: bool = False
    """`--no-history`."""
    rule_files: tuple[Path, ...] = ()
    """`--rules` (added to the configured ones)."""
    allowlist: Path | None = None
    """`--allowlist FILE`."""
    exclude: tuple[str, ...] = ()
    """`--exclude` (added to the configured and default exclusions)."""
    no_default_excludes: bool = False
    """`--no-default-excludes`: drop the built-in exclusions."""


def find_config(targets: Iterable[str], cwd: Path) -> Path | None:
    """The sprawlscan.toml that governs a scan of `targets` (see the module docstring)."""
    found: dict[Path, str] = {}
    for target in targets:
        scheme, sep, rest = target.partition(":")
        path = Path(rest if sep and scheme in ("git", "dir") else target)
        if sep and "/" not in scheme and not path.exists():
            continue                      # github:acme, vault-export:F... are not local folders
        try:
            start = path.resolve() if path.is_dir() else path.resolve().parent
        except OSError:
            continue
        for folder in (start, *start.parents):
            if (folder / CONFIG_FILE).is_file():
                found.setdefault(folder / CONFIG_FILE, target)
                break
            if (folder / ".git").exists() or folder == start and not _in_repo(start):
                break
    if len(found) > 1:
        (a, ta), (b, tb) = list(found.items())[:2]
        raise ConfigError(f"targets {ta} and {tb} have different {CONFIG_FILE} ({a}, {b}): "
                          "scan them separately")
    if found:
        return next(iter(found))
    own = cwd / CONFIG_FILE
    return own if own.is_file() else None


def _in_repo(folder: Path) -> bool:
    return any((p / ".git").exists() for p in (folder, *folder.parents))


def scan_options(flags: Flags, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                 targets: Iterable[str] = ()) -> ScanOptions:
    """Merge every layer into the options of one scan."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    config = find_config(targets, cwd)
    base = config.parent if config else cwd
    doc = _read_config(config) if config else {}
    _check_schema(doc, config or cwd / CONFIG_FILE)
    scan = _table(doc, "scan")
    allow = _table(doc, "allowlist")

    max_size = _int(scan.get("max_file_size", DEFAULT_MAX_FILE_SIZE), "scan.max_file_size")
    history = _bool(scan.get("history", True), "scan.history")
    rules = [base / p for p in _strs(scan.get("rules", []), "scan.rules")]
    defaults = _bool(scan.get("default_excludes", True), "scan.default_excludes")
    exclude = _strs(scan.get("exclude", []), "scan.exclude")
    fingerprints = set(_fingerprints(_strs(allow.get("fingerprints", []), "allowlist.fingerprints"),
                                     f"{CONFIG_FILE} [allowlist]"))
    allow_files = [base / p for p in _strs(allow.get("files", []), "allowlist.files")]

    if "SPRAWLSCAN_MAX_FILE_SIZE" in env:
        max_size = _int(env["SPRAWLSCAN_MAX_FILE_SIZE"], "SPRAWLSCAN_MAX_FILE_SIZE")
    if "SPRAWLSCAN_HISTORY" in env:
        history = _bool(env["SPRAWLSCAN_HISTORY"], "SPRAWLSCAN_HISTORY")
    rules += [Path(p) for p in env.get("SPRAWLSCAN_RULES", "").split(os.pathsep) if p]
    allow_files += [Path(p) for p in env.get("SPRAWLSCAN_ALLOWLIST", "").split(os.pathsep) if p]
    exclude += [p.strip() for p in env.get("SPRAWLSCAN_EXCLUDE", "").split(",") if p.strip()]

    if flags.max_file_size is not None:
        max_size = flags.max_file_size
    if flags.no_history:
        history = False
    rules += list(flags.rule_files)
    if flags.allowlist is not None:
        allow_files.append(flags.allowlist)
    exclude += flags.exclude
    if flags.no_default_excludes:
        defaults = False

    for path in allow_files:
        fingerprints |= load_allowlist(path)
    for path in rules:
        if not path.is_file():
            raise ConfigError(f"{path}: rule file not found")
    return ScanOptions(max_file_size=max_size, history=history, rule_files=tuple(rules),
                       allowlist=frozenset(fingerprints),
                       exclude=tuple(dict.fromkeys((*(DEFAULT_EXCLUDES if defaults else ()), *exclude))))


def load_allowlist(path: Path) -> frozenset[str]:
    """Fingerprints of an allowlist file: one SHA-256 hex (or a prefix of at least 12 hex digits) a
    line, `#` starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read allowlist ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: allowlist is not UTF-8 text") from None
    values = [ln.split("#", 1)[0].strip().lower() for ln in lines]
    return frozenset(_fingerprints([v for v in values if v], str(path)))


def _fingerprints(values: list[str], where: str) -> list[str]:
    bad = [v for v in values if not _FINGERPRINT.fullmatch(v.lower())]
    if bad:
        raise ConfigError(f"{where}: not a SHA-256 fingerprint (or a prefix of at least {MIN_PREFIX} hex "
                          f"digits): {bad[0][:16]!r}"
                          f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}")
    return [v.lower() for v in values]


def _read_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _check_schema(doc: dict[str, object], path: Path) -> None:
    """Refuse any table or key SCHEMA does not name, suggesting the closest known name."""
    def refuse(kind: str, name: str, known: Iterable[str]) -> None:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
        raise ConfigError(f"{path}: unknown {kind} {name!r}{hint}")

    for table, body in doc.items():
        if table not in SCHEMA:
            refuse("table", table, SCHEMA)
        if isinstance(body, dict):
            for key in body:
                if key not in SCHEMA[table]:
                    refuse(f"key in [{table}]", key, SCHEMA[table])


def _table(doc: dict[str, object], key: str) -> dict[str, object]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{CONFIG_FILE}: [{key}] must be a table")
    return value


def _int(value: object, where: str) -> int:
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: must be a positive integer") from None
    if n < 1 or isinstance(value, bool):
        raise ConfigError(f"{where}: must be a positive integer")
    return n


def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.lower() in ("1", "true", "yes")
    raise ConfigError(f"{where}: must be true or false")


def _strs(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{CONFIG_FILE}: {where} must be a list of strings")
    return list(value)
