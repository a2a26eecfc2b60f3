"""The labelled corpus: recall and precision of the built-in rules on synthetic secrets in
realistic files with hard negatives, overall, per category and per provider, and every rule proven
on it."""

from __future__ import annotations

import pytest
from tokens import SAMPLES

from detectors.loader import load_rules
from tests.corpus.quality import Quality, measure, table

THRESHOLD = 0.99


@pytest.fixture(scope="module")
def quality(tmp_path_factory: pytest.TempPathFactory) -> Quality:
    corpus, q = measure(tmp_path_factory.mktemp("corpus") / "c", seed="corpus-v1")
    print(f"\nlabelled corpus: {corpus.files} files, {len(corpus.expected)} secrets, styles {corpus.styles}")
    print(table(q, by="category"))
    print(table(q))
    return q


def test_recall_and_precision_meet_the_target(quality: Quality) -> None:
    """Overall recall and precision are both at least 0.99; misses and false positives are named."""
    assert quality.overall.recall >= THRESHOLD, quality.missed
    assert quality.overall.precision >= THRESHOLD, quality.false_positives


def test_every_provider_meets_the_target(quality: Quality) -> None:
    """No provider hides behind the overall figure."""
    low = {p: (s.recall, s.precision) for p, s in quality.per_provider.items()
           if s.recall < THRESHOLD or s.precision < THRESHOLD}
    assert low == {}


def test_every_category_meets_the_target(quality: Quality) -> None:
    """No category (search, payments, identity...) hides behind the overall figure either."""
    low = {c: (s.recall, s.precision) for c, s in quality.per_category.items()
           if s.recall < THRESHOLD or s.precision < THRESHOLD}
    assert low == {} and "other" not in quality.per_category


def test_every_rule_is_credited_with_a_positive(quality: Quality) -> None:
    """Each rule id reports at least one corpus secret as itself (not only via another rule)."""
    assert {r.id for r in load_rules()} - quality.found_rules == set()


def test_every_rule_has_a_sample_generator() -> None:
    """fixtures/tokens.py can produce a synthetic secret for every built-in rule."""
    assert {r.id for r in load_rules()} <= set(SAMPLES)


def test_hard_negatives_alone_give_nothing(tmp_path) -> None:
    """The file of hard negatives (placeholders, hashes, references, bad checksums...) is clean."""
    import random

    from scanner.engine import Engine
    from tests.corpus.negatives import hard_negatives

    text = "\n".join(hard_negatives(random.Random("neg"))).encode()
    assert [(m.rule_id, m.line) for m in Engine(load_rules()).scan(text)] == []
