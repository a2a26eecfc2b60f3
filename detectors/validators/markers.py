"""Marker validators: providers embed fixed substrings in their keys."""

from __future__ import annotations

OPENAI_MARKERS = ("T3BlbkFJ", "9wZW5BS", "PcGVuQU")


def openai_marker(secret: str) -> bool:
    """OpenAI `sk-` keys carry base64("OpenAI") at one of three alignments."""
    return any(m in secret for m in OPENAI_MARKERS)


def anthropic_suffix(secret: str) -> bool:
    """Anthropic API and admin keys end in `AA`."""
    return secret.endswith("AA")


def groq_marker(secret: str) -> bool:
    """Groq keys carry base64("XgroqX") (`WGdyb3FY`) in their body."""
    return "WGdyb3FY" in secret
