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

CI modes (`--diff BASE..HEAD`, `--since-commit BASE`, `--staged`, the GitHub Action, the
pre-commit hook) never read the configuration of the change being checked: a pull request could
otherwise allowlist its own secret or set `max_file_size = 1`. There the file is the repository
root's `sprawlscan.toml` as committed in BASE (`HEAD` for `--staged`), read with
`git cat-file blob BASE:sprawlscan.toml`, and the rule and allowlist files it names are read from
BASE too; or the file `SPRAWLSCAN_CONFIG` names (a path the workflow gives, any mode). The result
says which configuration was used (`ScanOptions.config_source`, the report's `summary.config`).

Environment: SPRAWLSCAN_MAX_FILE_SIZE, SPRAWLSCAN_HISTORY (0/1), SPRAWLSCAN_RULES and
SPRAWLSCAN_ALLOWLIST (paths separated by the OS path separator), SPRAWLSCAN_EXCLUDE (commas)."""

from __future__ import annotations

import atexit
import difflib
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from scanner.errors import ConfigError
from scanner.parsing import MAX_SMALL_FILE, read_small_text
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


def committed_config(target: str, rev: str) -> tuple[dict[str, object], Path, str]:
    """The repository root's sprawlscan.toml as committed in `rev`, the folder its relative paths
    resolve in (a scratch copy of the rule and allowlist files it names, also read from `rev`) and
    a description of it. No file in `rev`: an empty configuration."""
    from scanner import gitcmd

    folder = Path(target.partition(":")[2] if target.startswith(("git:", "dir:")) else target)
    top = gitcmd.run(folder, "rev-parse", "--show-toplevel")
    sha = gitcmd.run(folder, "rev-parse", "--verify", "--end-of-options", f"{rev}^{{commit}}")
    if top.returncode:
        raise ConfigError(f"{target}: cannot read the configuration of {rev!r} (not a git "
                          "repository)")
    if sha.returncode:  # no commit yet (a first commit being staged): nothing was configured
        return {}, Path(top.stdout.decode().strip()), f"none: {rev} does not exist yet (defaults)"
    root, commit = Path(top.stdout.decode().strip()), sha.stdout.decode().strip()

    def blob(rel: str) -> bytes | None:
        size = gitcmd.run(root, "cat-file", "-s", f"{commit}:{rel}")
        if size.returncode:
            return None
        limit = MAX_CONFIG if rel == CONFIG_FILE else MAX_SMALL_FILE
        if int(size.stdout.decode().strip() or 0) > limit:
            raise ConfigError(f"{rev}:{rel}: larger than {limit} bytes")
        out = gitcmd.run(root, "cat-file", "blob", f"{commit}:{rel}")
        return out.stdout if out.returncode == 0 else None

    data = blob(CONFIG_FILE)
    where = f"{rev}:{CONFIG_FILE} ({commit[:12]})"
    if data is None:
        return {}, root, f"none in {rev} ({commit[:12]}): defaults"
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    _check_schema(doc, Path(where))
    scratch = Path(tempfile.mkdtemp(prefix="sprawlscan-base-"))
    atexit.register(shutil.rmtree, scratch, True)
    named = [*_strs(_table(doc, "scan").get("rules", []), "scan.rules"),
             *_strs(_table(doc, "allowlist").get("files", []), "allowlist.files")]
    for rel in named:
        clean = PurePosixPath(rel)
        if clean.is_absolute() or ".." in clean.parts:
            raise ConfigError(f"{where}: {rel!r} must be a path inside the repository")
        content = blob(clean.as_posix())
        if content is None:
            raise ConfigError(f"{where}: {rel} is not in {rev}")
        dest = scratch / clean
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(content)
    return doc, scratch, where


def scan_options(flags: Flags, cwd: Path | None = None, env: Mapping[str, str] | None = None,
                 targets: Iterable[str] = (), ci_base: str | None = None) -> ScanOptions:
    """Merge every layer into the options of one scan. `ci_base`: a CI mode's base revision, whose
    committed configuration is the one used (see the module docstring)."""
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    targets = list(targets)
    if env.get("SPRAWLSCAN_CONFIG"):
        given = Path(env["SPRAWLSCAN_CONFIG"])
        if not given.is_file():
            raise ConfigError(f"{given}: SPRAWLSCAN_CONFIG names no file")
        config: Path | None = given
        source = f"{given} (SPRAWLSCAN_CONFIG)"
    elif ci_base is not None:
        config = None
    else:
        config = find_config(targets, cwd)
        source = str(config) if config else "none: defaults"
    if config is None and ci_base is not None:
        doc, base, source = committed_config(targets[0] if targets else ".", ci_base)
    else:
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
            raise ConfigError(f"{path}: rule file " + ("is not a regular file" if path.exists() else "not found"))
    return ScanOptions(max_file_size=max_size, history=history, rule_files=tuple(rules),
                       allowlist=frozenset(fingerprints), config_source=source,
                       exclude=tuple(dict.fromkeys((*(DEFAULT_EXCLUDES if defaults else ()), *exclude))))


def load_allowlist(path: Path) -> frozenset[str]:
    """Fingerprints of an allowlist file: one SHA-256 hex (or a prefix of at least 12 hex digits) a
    line, `#` starts a comment."""
    lines = read_small_text(path, "allowlist").splitlines()
    values = [ln.split("#", 1)[0].strip().lower() for ln in lines]
    return frozenset(_fingerprints([v for v in values if v], str(path)))


def _fingerprints(values: list[str], where: str) -> list[str]:
    bad = [v for v in values if not _FINGERPRINT.fullmatch(v.lower())]
    if bad:
        raise ConfigError(f"{where}: not a SHA-256 fingerprint (or a prefix of at least {MIN_PREFIX} hex "
                          f"digits): {bad[0][:16]!r}"
                          f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}")
    return [v.lower() for v in values]


MAX_CONFIG = 1024 * 1024
"""Largest `sprawlscan.toml` read."""


def _read_config(path: Path) -> dict[str, object]:
    if not os.path.lexists(path):
        return {}
    try:
        return tomllib.loads(read_small_text(path, "config", MAX_CONFIG))
    except tomllib.TOMLDecodeError as exc:
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
