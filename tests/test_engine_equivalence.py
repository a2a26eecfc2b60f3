"""The Hyperscan prefilter and the Aho-Corasick (`regex`) fallback give identical findings on the
whole labelled corpus (every file, every decoded view) and identical keyword occurrences on any
text, so the backend is an optimisation only; `$SPRAWLSCAN_ENGINE` picks it and the CLI names it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from scanner.cli import main
from scanner.engine import ENGINE_ENV, Engine, select_backend
from scanner.errors import ConfigError
from scanner.pipeline import ScanOptions, run_scan
from tests.corpus.quality import build

RULES = load_rules()
HS, RX = Engine(RULES, backend="hyperscan"), Engine(RULES, backend="regex")


def test_both_backends_give_identical_matches_and_credentials_on_the_corpus(tmp_path):
    """Per-file matches (rule, secret, offsets, line, captures) and the deduplicated credentials
    are equal, and the corpus is not trivially empty."""
    corpus = build(tmp_path / "c", seed="equivalence", rules=RULES)
    assert (HS.backend, RX.backend) == ("hyperscan", "regex")
    matches = 0
    for path in sorted(p for p in corpus.root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert HS.candidate_rules(data) == RX.candidate_rules(data), path.name
        a, b = HS.scan(data), RX.scan(data)
        assert a == b, path.name
        matches += len(a)
    assert matches >= len(corpus.expected)
    options = ScanOptions(history=False)
    ca = run_scan([str(corpus.root)], options, engine=HS).credentials
    cb = run_scan([str(corpus.root)], options, engine=RX).credentials
    assert ca == cb and len(ca) == len(corpus.expected)


KEYWORDS = sorted({k for r in RULES for k in r.keywords})
_piece = st.one_of(st.sampled_from(KEYWORDS), st.text(alphabet="aAkKsS_-:/ \n\"'=", max_size=6))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_piece, max_size=12), flips=st.randoms(use_true_random=False))
def test_keyword_occurrences_are_identical_with_overlaps_and_any_case(pieces, flips):
    """Keywords glued together (overlapping, repeated, one inside another) in random case give
    the same start offsets from both backends, and every offset really holds its keyword."""
    text = "".join(pieces)
    text = "".join(c.upper() if flips.random() < 0.5 else c for c in text)
    data = text.encode("utf-8")
    hs, rx = HS.keyword_hits(data), RX.keyword_hits(data)
    assert hs == rx
    lowered = data.lower()
    for kw_id, offsets in rx.items():
        kw = RX._keywords[kw_id]
        assert offsets == sorted(offsets)
        assert all(lowered[o:o + len(kw)] == kw for o in offsets)
    kw_index = {k: i for i, k in enumerate(RX._keywords)}
    for piece in pieces:  # every keyword written in is found
        if piece in KEYWORDS:
            assert kw_index[piece.lower().encode("utf-8")] in rx


def test_environment_forces_the_backend(monkeypatch):
    """`SPRAWLSCAN_ENGINE` decides the backend of an engine built without an explicit choice; an
    unknown name is a configuration error (exit 2), not a silent default."""
    monkeypatch.setenv(ENGINE_ENV, "regex")
    assert Engine(RULES).backend == "regex"
    monkeypatch.setenv(ENGINE_ENV, "hyperscan")
    assert Engine(RULES).backend == "hyperscan"
    monkeypatch.delenv(ENGINE_ENV)
    assert select_backend() == "hyperscan"  # installed with the project on this platform
    monkeypatch.setenv(ENGINE_ENV, "grep")
    with pytest.raises(ConfigError, match="SPRAWLSCAN_ENGINE"):
        Engine(RULES)


@pytest.mark.parametrize("backend", ["hyperscan", "regex"])
def test_version_and_scan_verbose_name_the_backend(backend, monkeypatch, tmp_path):
    """`--version` and `scan -v` say which backend scans, as forced by the environment."""
    monkeypatch.setenv(ENGINE_ENV, backend)
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("sprawlscan ")
    assert f"(engine: {backend})" in res.output
    (tmp_path / "a.txt").write_text("nothing here\n")
    res = CliRunner().invoke(main, ["scan", "-v", "--format", "json", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert f"engine: {backend}" in res.stderr


def test_unknown_backend_is_one_line_and_exit_2(monkeypatch, tmp_path):
    monkeypatch.setenv(ENGINE_ENV, "grep")
    res = CliRunner().invoke(main, ["scan", str(tmp_path)])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "sprawlscan: SPRAWLSCAN_ENGINE='grep': expected one of hyperscan, regex"]
