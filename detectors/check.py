"""Rules prove themselves: every example must be reported by its rule, no negative example may be.
Backs the generic rule test and `sprawlscan rules check`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What `sprawlscan rules check` found."""

    rules: int
    """Rules checked."""
    failures: tuple[ExampleFailure, ...]
    """Examples that did not behave."""
    without_examples: tuple[str, ...]
    """Imported (gitleaks) rules that carry no example to check."""
    skipped: tuple[str, ...] = ()
    """`file: id` of gitleaks path-only rules, which cannot be imported."""


def check_rule_files(files: list[Path]) -> CheckReport:
    """Check FILES' rules (default: the built-in ones). Custom files are loaded together with the
    built-in rules, so an id that clashes with a built-in one is refused too."""
    from detectors.loader import load_rules, parse_rule_file, skipped_path_only

    if files:
        load_rules(files)  # refuses bad rules and duplicate ids, naming them
        rules = [r for f in files for r in parse_rule_file(f)]
    else:
        rules = load_rules()
    failures = tuple(check_rule_examples(rules))
    return CheckReport(len(rules), failures,
                       tuple(r.id for r in rules if not r.examples and not r.negative_examples),
                       tuple(skipped_path_only(files)))
