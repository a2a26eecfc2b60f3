"""The compiled-rules cache: parsing and checking ~270 rules in ~170 files, and compiling their
keywords into a Hyperscan database, cost more than a one-file scan; both are kept in the user's
cache directory (`$XDG_CACHE_HOME/sprawlscan`, else `~/.cache/sprawlscan`), keyed by the rules
digest: SHA-256 over the tool version, the Rule record's fields and every rule file's path and
bytes (and, for the database, the keywords and the Hyperscan version). Any edit is a new key.

Each entry is one file; the KEEP most recently used per kind are kept (a load marks its entry
used), so the rule set a user scans with is not evicted by a few others (`--rules` files, other
installs or versions sharing the directory). A first line with the SHA-256 of the rest, then the key and the payload
(rules as JSON, never pickle: nothing in it can run). It is written to a temporary file and
renamed into place, so a reader sees a whole file or none. A file that is unreadable, fails its
checksum, holds another key or does not rebuild is ignored and rewritten: the cache can make
loading faster, never different."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from detectors.rule import Allowlist, Rule

_TUPLES = {f.name for f in fields(Rule) if str(f.type).startswith("tuple")}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sprawlscan"


def rules_key(files: list[Path]) -> str | None:
    """The rules digest of these files; None when one cannot be read (the loader says why)."""
    from scanner import __version__

    # the records' shapes are part of the key: a cached rule never lacks a field (an allowlist's
    # `commits`) the code now reads
    shape = [f.name for f in fields(Rule)] + [f.name for f in fields(Allowlist)]
    h = hashlib.sha256(f"{__version__}\0{shape}".encode())
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        h.update(b"\0%d\0%s\0" % (len(data), str(path).encode("utf-8", "surrogateescape")))
        h.update(data)
    return h.hexdigest()


def load(kind: str, key: str) -> bytes | None:
    """The payload stored as `kind` under `key`, or None (absent, corrupt or another key)."""
    try:
        raw = _path(kind, key).read_bytes()
    except OSError:
        return None
    digest, _, body = raw.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        return None
    stored, _, payload = body.partition(b"\n")
    if stored != key.encode():
        return None
    _touch(_path(kind, key))
    return payload


KEEP = 16
"""Entries kept per kind (the most recently used): rule sets in turn (`--rules` files, installs,
versions); a Hyperscan entry is about 1 MB."""


def _touch(path: Path) -> None:
    """Mark an entry used (its mtime orders eviction); a read-only cache is no error."""
    try:
        os.utime(path)
    except OSError:
        pass


def _path(kind: str, key: str) -> Path:
    return cache_dir() / f"{kind}-{key[:24]}.cache"


def store(kind: str, key: str, payload: bytes) -> None:
    """Keep `payload` as `kind` under `key`, atomically, and the KEEP most recently used entries
    of that kind; a cache directory that cannot be written is no error."""
    body = key.encode() + b"\n" + payload
    target = _path(kind, key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        entries = sorted(target.parent.glob(f"{kind}-*.cache"), key=_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read_rules(key: str) -> list[Rule] | None:
    payload = load("rules", key)
    if payload is None:
        return None
    try:
        return [Rule(**_fields(r)) for r in json.loads(payload)]
    except Exception:  # noqa: BLE001 - a payload that does not rebuild is not used
        return None


def write_rules(key: str, rules: list[Rule]) -> None:
    store("rules", key, json.dumps([asdict(r) for r in rules], separators=(",", ":")).encode())


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    out = {k: tuple(v) if k in _TUPLES else v for k, v in record.items()}
    if out.get("allowlists"):  # imported gitleaks allowlists: records, not dicts
        out["allowlists"] = tuple(
            Allowlist(tuple(a["regexes"]), str(a["target"]), tuple(a["paths"]),
                      tuple(a["stopwords"]), str(a["condition"]), tuple(a.get("commits", ())))
            for a in out["allowlists"])
    return out
