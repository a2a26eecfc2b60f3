"""The Hyperscan prefilter and the pure-`regex` fallback give identical findings on the whole
labelled corpus (every file, every decoded view), so hyperscan is an optimisation only."""

from __future__ import annotations

import pytest

from detectors.loader import load_rules
from scanner.engine import Engine
from scanner.pipeline import ScanOptions, run_scan
from tests.corpus.quality import build

pytest.importorskip("hyperscan")


def test_both_backends_give_identical_matches_and_credentials_on_the_corpus(tmp_path):
    """Per-file matches (rule, secret, offsets, line, captures) and the deduplicated credentials
    are equal, and the corpus is not trivially empty."""
    rules = load_rules()
    corpus = build(tmp_path / "c", seed="equivalence", rules=rules)
    hs, rx = Engine(rules, use_hyperscan=True), Engine(rules, use_hyperscan=False)
    assert (hs.backend, rx.backend) == ("hyperscan", "regex")
    matches = 0
    for path in sorted(p for p in corpus.root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert hs.candidate_rules(data) == rx.candidate_rules(data), path.name
        a, b = hs.scan(data), rx.scan(data)
        assert a == b, path.name
        matches += len(a)
    assert matches >= len(corpus.expected)
    options = ScanOptions(history=False)
    ca = run_scan([str(corpus.root)], options, engine=hs).credentials
    cb = run_scan([str(corpus.root)], options, engine=rx).credentials
    assert ca == cb and len(ca) == len(corpus.expected)
