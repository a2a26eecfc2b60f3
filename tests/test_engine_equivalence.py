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


@pytest.fixture
def corpus_repo(tmp_path, make_repo):
    """The labelled corpus committed to a git repository in three commits (the last deletes a
    third of it), plus a binary file and an over-size one: every kind of blob the pool sees."""
    r = make_repo("corpus")
    corpus = build(r.path / "c", seed="history", rules=RULES)
    files = sorted(p for p in (r.path / "c").rglob("*") if p.is_file())
    r.git("add", *[str(p.relative_to(r.path)) for p in files[: len(files) // 2]])
    r.commit("first half")
    (r.path / "logo.bin").write_bytes(b"\x89PNG\x00" + bytes(range(256)) * 8)
    (r.path / "big.txt").write_text("x = 1\n" * 20000)
    r.git("add", "-A")
    r.commit("the rest")
    for p in files[::3]:
        p.unlink()
    r.git("add", "-A")
    r.commit("delete a third")
    return r, corpus


def _history(path, engine, max_file_size=100_000):
    result = run_scan([str(path)], ScanOptions(max_file_size=max_file_size), engine=engine)
    return result.credentials, result.stats


def test_history_scan_is_identical_serial_and_on_the_worker_pool_with_both_backends(
        corpus_repo, monkeypatch):
    """A full-history scan gives the same credentials (every location, commit and state) and the
    same counts scanned in this process and on a pool of 2 workers with tiny segments, with
    either backend; and it finds every labelled secret of the corpus."""
    from scanner.sources import git_history

    r, corpus = corpus_repo
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "1")
    serial = _history(r.path, HS)
    assert {c.fingerprint for c in serial[0]} >= set(corpus.expected)
    assert serial[1].skipped.get("binary") == 1 and serial[1].skipped.get("too-large") == 1
    monkeypatch.setattr(git_history, "POOL_AFTER", 0)
    monkeypatch.setattr(git_history, "SEGMENT_BYTES", 2048)
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "2")
    segments = list(git_history.GitHistorySource(r.path).segments(
        git_history.GitHistorySource(r.path).list_blobs(git_history.ScanStats())))
    assert len(segments) > 10  # the pool really gets many tasks
    for engine in (HS, RX):
        assert _history(r.path, engine) == serial


def test_progress_meter_counts_every_blob_and_byte(corpus_repo, monkeypatch):
    """The meter hears of every blob under the size limit and their bytes, monotonically, ending
    at the totals (what the CLI's progress bar shows)."""
    from scanner.sources import git_history

    r, _ = corpus_repo
    monkeypatch.setattr(git_history, "POOL_AFTER", 0)
    monkeypatch.setattr(git_history, "SEGMENT_BYTES", 4096)
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "2")
    source = git_history.GitHistorySource(r.path, git_history.SourceOptions(max_file_size=100_000))
    calls = []
    source.meter = lambda name, done, total, bdone, btotal: calls.append((done, total, bdone, btotal))
    list(source.scan(HS, git_history.ScanStats()))
    listed = source.list_blobs(git_history.ScanStats())
    small = [size for _, size in listed if size <= 100_000]
    assert len(calls) > 3
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert calls[-1] == (len(small), len(small), sum(small), sum(small))
