"""Structure validators: the candidate must decode to what its format promises."""

from __future__ import annotations

import base64
import binascii
import json


def jwt_structure(token: str) -> bool:
    """A JWT's first part is base64url JSON with an `alg` member; the second is a JSON object."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header, payload = (json.loads(_b64url(p)) for p in parts[:2])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str) and isinstance(payload, dict)


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
