"""Verification stage (`--verify`): asks each credential's own provider whether it works and whose
it is. `base` holds the records and the pinned HTTP client, `providers` the table of generic
verifiers, `special` the ones written as code, `registry` the rule → verifier map and the run.

The registry (every provider's table) loads on first use, not when a scan that never verifies
imports `scanner.verify.base` for its options: start-up time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scanner.verify.base import Identity, Verification, VerifyOptions, parse_endpoints

if TYPE_CHECKING:
    from scanner.verify.registry import BY_RULE, ENDPOINT_KEYS, VERIFIERS, verify_all

__all__ = ["BY_RULE", "ENDPOINT_KEYS", "VERIFIERS", "Identity", "Verification", "VerifyOptions",
           "parse_endpoints", "verify_all"]
_LAZY = ("BY_RULE", "ENDPOINT_KEYS", "VERIFIERS", "verify_all")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from scanner.verify import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
