"""Validators: named checks a rule applies to a candidate secret. `VALIDATORS` is the explicit
registry that rule files name; each validator takes the secret, the text around it (a few hundred
characters either side) and the rule's keywords, and says whether the candidate is real enough to
report. The placeholder filter and the entropy floor are not in the registry: the engine applies
them to every rule."""

from __future__ import annotations

from collections.abc import Callable

from detectors.validators.checksum import github_crc32
from detectors.validators.context import keyword_near
from detectors.validators.entropy import shannon_entropy
from detectors.validators.markers import anthropic_suffix, groq_marker, openai_marker
from detectors.validators.placeholders import is_placeholder
from detectors.validators.structure import jwt_structure

Validator = Callable[[str, str, tuple[str, ...]], bool]
"""(secret, surrounding text, rule keywords) -> keep?"""

VALIDATORS: dict[str, Validator] = {
    "github_crc32": lambda secret, _ctx, _kw: github_crc32(secret),
    "npm_crc32": lambda secret, _ctx, _kw: github_crc32(secret),
    "openai_marker": lambda secret, _ctx, _kw: openai_marker(secret),
    "anthropic_suffix": lambda secret, _ctx, _kw: anthropic_suffix(secret),
    "groq_marker": lambda secret, _ctx, _kw: groq_marker(secret),
    "jwt_structure": lambda secret, _ctx, _kw: jwt_structure(secret),
    "keyword_near": keyword_near,
}

__all__ = ["VALIDATORS", "Validator", "github_crc32", "is_placeholder", "shannon_entropy"]
