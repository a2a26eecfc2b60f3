"""Rules prove themselves: every example must be reported by its rule, no negative example may be.
Backs the generic rule test and `sprawlscan rules check`."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.rule import Rule
from scanner.engine import Engine


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    """One example that did not behave."""

    rule_id: str
    """The rule."""
    label: str
    """`ex1`, `neg2`...: which example (1-based)."""
    problem: str
    """What went wrong."""


def check_rule_examples(rules: list[Rule], engine: Engine | None = None) -> list[ExampleFailure]:
    """Failures of every rule's examples, each scanned alone by an engine holding all rules."""
    engine = engine or Engine(rules)
    failures = []
    for rule in rules:
        for i, text in enumerate(rule.examples, 1):
            if not any(m.rule_id == rule.id for m in engine.scan(text.encode("utf-8"))):
                failures.append(ExampleFailure(rule.id, f"ex{i}", "example not matched"))
        for i, text in enumerate(rule.negative_examples, 1):
            if any(m.rule_id == rule.id for m in engine.scan(text.encode("utf-8"))):
                failures.append(ExampleFailure(rule.id, f"neg{i}", "negative example matched"))
    return failures
