"""Configuration: the one place that merges defaults < `sprawlscan.toml` (in the working
directory) < `SPRAWLSCAN_*` environment variables < command-line flags, and gives `ScanOptions`.
Scalars take the highest layer that sets them; allowlists are unions (every layer may add
fingerprints, none can remove one).

    # sprawlscan.toml
    [scan]
    max_file_size = 10000000
    history = true
    rules = ["rules/acme.toml"]        # our format or a gitleaks config
    exclude = ["vendor", "*.lock"]
    [allowlist]
    fingerprints = ["<sha256 hex>", ...]
    files = ["allowlist.txt"]          # one fingerprint a line, `#` comments

Environment: SPRAWLSCAN_MAX_FILE_SIZE, SPRAWLSCAN_HISTORY (0/1), SPRAWLSCAN_RULES and
SPRAWLSCAN_ALLOWLIST (paths separated by the OS path separator), SPRAWLSCAN_EXCLUDE (commas)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ConfigError
from scanner.pipeline import ScanOptions
from scanner.sources.base import DEFAULT_MAX_FILE_SIZE

CONFIG_FILE = "sprawlscan.toml"
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


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
    """`--exclude` (replaces the configured list when given)."""


def scan_options(flags: Flags, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> ScanOptions:
    """Merge every layer into the options of one scan."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    doc = _read_config(cwd / CONFIG_FILE)
    scan = _table(doc, "scan")
    allow = _table(doc, "allowlist")

    max_size = _int(scan.get("max_file_size", DEFAULT_MAX_FILE_SIZE), "scan.max_file_size")
    history = _bool(scan.get("history", True), "scan.history")
    rules = [cwd / p for p in _strs(scan.get("rules", []), "scan.rules")]
    exclude: list[str] | None = _strs(scan["exclude"], "scan.exclude") if "exclude" in scan else None
    fingerprints = set(_fingerprints(_strs(allow.get("fingerprints", []), "allowlist.fingerprints"),
                                     f"{CONFIG_FILE} [allowlist]"))
    allow_files = [cwd / p for p in _strs(allow.get("files", []), "allowlist.files")]

    if "SPRAWLSCAN_MAX_FILE_SIZE" in env:
        max_size = _int(env["SPRAWLSCAN_MAX_FILE_SIZE"], "SPRAWLSCAN_MAX_FILE_SIZE")
    if "SPRAWLSCAN_HISTORY" in env:
        history = _bool(env["SPRAWLSCAN_HISTORY"], "SPRAWLSCAN_HISTORY")
    rules += [Path(p) for p in env.get("SPRAWLSCAN_RULES", "").split(os.pathsep) if p]
    allow_files += [Path(p) for p in env.get("SPRAWLSCAN_ALLOWLIST", "").split(os.pathsep) if p]
    if env.get("SPRAWLSCAN_EXCLUDE"):
        exclude = [p.strip() for p in env["SPRAWLSCAN_EXCLUDE"].split(",") if p.strip()]

    if flags.max_file_size is not None:
        max_size = flags.max_file_size
    if flags.no_history:
        history = False
    rules += list(flags.rule_files)
    if flags.allowlist is not None:
        allow_files.append(flags.allowlist)
    if flags.exclude:
        exclude = list(flags.exclude)

    for path in allow_files:
        fingerprints |= load_allowlist(path)
    for path in rules:
        if not path.is_file():
            raise ConfigError(f"{path}: rule file not found")
    return ScanOptions(max_file_size=max_size, history=history, rule_files=tuple(rules),
                       allowlist=frozenset(fingerprints), exclude=tuple(exclude) if exclude is not None else None)


def load_allowlist(path: Path) -> frozenset[str]:
    """Fingerprints of an allowlist file: one SHA-256 hex a line, `#` starts a comment."""
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
        raise ConfigError(f"{where}: not a SHA-256 fingerprint: {bad[0][:16]!r}"
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
