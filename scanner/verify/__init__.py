"""Verification stage (`--verify`): asks each credential's own provider whether it works and whose
it is. `base` holds the records and the pinned HTTP client, `providers` the table of generic
verifiers, `special` the ones written as code, `registry` the rule → verifier map and the run."""

from __future__ import annotations

from scanner.verify.base import Identity, Verification, VerifyOptions, parse_endpoints
from scanner.verify.registry import BY_RULE, ENDPOINT_KEYS, VERIFIERS, verify_all

__all__ = ["BY_RULE", "ENDPOINT_KEYS", "VERIFIERS", "Identity", "Verification", "VerifyOptions",
           "parse_endpoints", "verify_all"]
