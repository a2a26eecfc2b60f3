"""Engine bounds on hostile input: many secrets in one big file scan in linear time (line numbers
come from one index per chunk), and the allow marker still applies per line."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.loader import load_rules
from scanner import engine as engine_mod
from scanner.engine import Engine, Lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_many_secrets import build  # noqa: E402

RULES = load_rules()


def test_six_megabytes_with_ten_thousand_secrets_scan_fast():
    """6 MB holding 10,000 tokens: every one found on its own line, in well under 5 s (the
    quadratic line count took minutes)."""
    data = build(6 * 1024 * 1024, 10_000, seed=7)
    engine = Engine(RULES)
    t = time.perf_counter()
    matches = engine.scan(data)
    elapsed = time.perf_counter() - t
    assert len(matches) == 10_000
    lines = data.split(b"\n")
    for m in matches[::997]:
        assert m.secret.encode() in lines[m.line - 1]
    assert elapsed < 5, elapsed


def test_line_index_is_built_once_per_chunk(monkeypatch, rng):
    """Structural: one `Lines` index per scanned chunk, however many matches it holds."""
    built = []
    real_init = Lines.__init__

    def counting(self, text):
        built.append(len(text))
        real_init(self, text)

    monkeypatch.setattr(engine_mod.Lines, "__init__", counting)
    data = build(200_000, 500, seed=3)
    assert len(Engine(RULES).scan(data)) == 500
    assert built == [len(data)]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n", max_size=200), st.data())
def test_line_of_offset_matches_counting(text, data):
    """`Lines.line(offset)` equals 1 + the newlines before `offset`."""
    offset = data.draw(st.integers(0, len(text)))
    assert Lines(text).line(offset) == text.count("\n", 0, offset) + 1


def test_allow_marker_applies_to_its_own_line_only():
    """`sprawlscan:allow` on one line hides that line's secret only."""
    rng = random.Random(5)
    from tokens import github
    a, b = github(rng), github(rng)
    text = f"x = '{a}'  # sprawlscan:allow\ny = '{b}'\n".encode()
    assert [m.secret for m in Engine(RULES).scan(text)] == [b]
