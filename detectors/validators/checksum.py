"""Checksum validators: GitHub and npm tokens end in the CRC-32 of their body, in base62."""

from __future__ import annotations

import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(n: int, width: int = 6) -> str:
    digits = ""
    while n:
        n, r = divmod(n, 62)
        digits = BASE62[r] + digits
    return digits.rjust(width, "0")


def github_crc32(token: str) -> bool:
    """`ghp_` + 30 random chars + 6 chars of base62(CRC-32(random chars)); same for `npm_`."""
    _, sep, rest = token.partition("_")
    if not sep or len(rest) != 36:
        return False
    body, check = rest[:30], rest[30:]
    return base62(zlib.crc32(body.encode())) == check
