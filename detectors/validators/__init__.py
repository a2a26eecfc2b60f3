"""Validators: named checks a rule applies to a candidate secret. `VALIDATORS` is the explicit
registry that rule files name; each validator takes the secret and the text around it and says
whether the candidate is real enough to report."""

from __future__ import annotations

from collections.abc import Callable

from detectors.validators.checksum import github_crc32
from detectors.validators.entropy import shannon_entropy
from detectors.validators.markers import anthropic_suffix, groq_marker, openai_marker
from detectors.validators.placeholders import is_placeholder

Validator = Callable[[str, str], bool]
"""(secret, surrounding text) -> keep?"""

VALIDATORS: dict[str, Validator] = {
    "github_crc32": lambda secret, _ctx: github_crc32(secret),
    "npm_crc32": lambda secret, _ctx: github_crc32(secret),
    "openai_marker": lambda secret, _ctx: openai_marker(secret),
    "anthropic_suffix": lambda secret, _ctx: anthropic_suffix(secret),
    "groq_marker": lambda secret, _ctx: groq_marker(secret),
}

__all__ = ["VALIDATORS", "Validator", "github_crc32", "is_placeholder", "shannon_entropy"]
