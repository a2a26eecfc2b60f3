"""Fingerprints: a credential's identity in every report, notification, baseline, event and the
datastore. `fingerprint_of(secret)` is the one place that decides how a value is fingerprinted.

A value whose estimated entropy reaches MIN_BITS keeps the plain SHA-256 of its exact string
(`secret_sha256`): guessing it back from the hash is hopeless. A lower-entropy value (a short
password under a secret-like name in a vault export or CI variables, a generic password rule's
capture) would be recovered from a plain hash by guessing, so it gets no plain hash anywhere:
its fingerprint is HMAC-SHA256 under a key (`keyed`, shown as `"fingerprint": "keyed"`). The key
is, in this order: `$SPRAWLSCAN_FINGERPRINT_KEY` (shared by every machine and datastore that must
agree: CI with a baseline); the recording datastore's own random key (created with it, stored
in it; `keyed_by` while a recorded scan runs); else a random key in the user's data directory
(`$XDG_DATA_HOME/sprawlscan/fingerprint.key`, else `~/.local/share/...`, created 0600 on first
use), so that scans without a datastore give the same fingerprints run after run and their
baselines and allowlists keep working. Within one scan there is one key: copies still dedup.

The entropy estimate is deliberately low: the lesser of the Shannon entropy of the string times
its length and its length times the bits of the character classes it uses."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scanner.errors import ConfigError

KEY_ENV = "SPRAWLSCAN_FINGERPRINT_KEY"
MIN_BITS = 64
"""Values estimated below this many bits of entropy are fingerprinted with the key."""
MIN_KEY_CHARS = 32
KEY_FILE_MAX = 4096

_scoped: list[bytes] = []
"""Keys set by `keyed_by` (the innermost applies)."""
_user_key: bytes | None = None


def normalise(secret: str) -> str:
    """A multi-line secret (a PEM key) with LF line endings and no trailing whitespace per line:
    the same key pasted from Windows (CRLF) is the same credential."""
    if "\n" in secret or "\r" in secret:
        secret = "\n".join(line.rstrip() for line in secret.replace("\r\n", "\n").replace("\r", "\n")
                           .split("\n"))
    return secret


def estimated_bits(secret: str) -> float:
    """A low estimate of the value's entropy in bits (see the module text)."""
    if not secret:
        return 0.0
    n = len(secret)
    shannon = -sum(c / n * math.log2(c / n) for c in Counter(secret).values()) * n
    pool = (26 * any(c.islower() for c in secret) + 26 * any(c.isupper() for c in secret)
            + 10 * any(c.isdigit() for c in secret) + 33 * any(not c.isalnum() for c in secret))
    return min(shannon, n * math.log2(max(pool, 2)))


def is_keyed(secret: str) -> bool:
    """The value is fingerprinted with the key (its estimated entropy is under MIN_BITS)."""
    return estimated_bits(normalise(secret)) < MIN_BITS


def fingerprint_of(secret: str) -> tuple[str, bool]:
    """(fingerprint hex, keyed): the plain SHA-256 of a high-entropy value, else its HMAC-SHA256
    under `current_key()`."""
    value = normalise(secret)
    data = value.encode("utf-8", "surrogatepass")
    if estimated_bits(value) >= MIN_BITS:
        return hashlib.sha256(data).hexdigest(), False
    return hmac.new(current_key(), data, hashlib.sha256).hexdigest(), True


def sha256_hex(text: str) -> str:
    """The plain SHA-256 of a string that is no secret (a synthetic id)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh random key (what a new datastore stores)."""
    return secrets.token_hex(32)


def current_key() -> bytes:
    """`$SPRAWLSCAN_FINGERPRINT_KEY`, else the key set by `keyed_by`, else the user's key file."""
    env = os.environ.get(KEY_ENV, "")
    if env:
        if len(env.strip()) < MIN_KEY_CHARS:
            raise ConfigError(f"{KEY_ENV}: expected at least {MIN_KEY_CHARS} characters "
                              "(e.g. `openssl rand -hex 32`)")
        return env.strip().encode("utf-8")
    if _scoped:
        return _scoped[-1]
    return user_key()


def key_tag(datastore_key: str) -> str:
    """A short public name of the key in force with `datastore_key` (`$SPRAWLSCAN_FINGERPRINT_KEY`
    wins): what a cache of fingerprints is filed under, so that a changed key never mixes two."""
    with keyed_by(datastore_key):
        return hmac.new(current_key(), b"sprawlscan key tag", hashlib.sha256).hexdigest()[:16]


@contextmanager
def keyed_by(key: str) -> Iterator[None]:
    """Low-entropy values are fingerprinted with `key` (a datastore's) inside the block, unless
    `$SPRAWLSCAN_FINGERPRINT_KEY` is set."""
    _scoped.append(key.encode("utf-8"))
    try:
        yield
    finally:
        _scoped.pop()


def key_file() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "sprawlscan" / "fingerprint.key"


def user_key() -> bytes:
    """The user's key file's key, created (0600, exclusively: two first runs agree) when absent."""
    global _user_key
    path = key_file()
    if _user_key is not None and _user_key_path == path:
        return _user_key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(new_key() + "\n")
        key = _read_key_file(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read or create the fingerprint key ({exc.strerror}); "
                          f"set {KEY_ENV}") from None
    _remember(path, key)
    return key


_user_key_path: Path | None = None


def _remember(path: Path, key: bytes) -> None:
    global _user_key, _user_key_path
    _user_key, _user_key_path = key, path


def _read_key_file(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > KEY_FILE_MAX:
            raise ConfigError(f"{path}: the fingerprint key file must be a regular file under "
                              f"{KEY_FILE_MAX} bytes")
        key = f.read(KEY_FILE_MAX).strip()
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{path}: the fingerprint key is shorter than {MIN_KEY_CHARS} characters")
    return key
