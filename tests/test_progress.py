"""Progress on a terminal: a source's name as a line, the git history scan as a rich progress bar
(blobs done / total, speed, time left) fed by the pipeline; nothing at all when not a terminal."""

from __future__ import annotations

import io

from scanner.pipeline import run_scan
from scanner.progress import TerminalProgress
from scanner.sources import git_history
from tokens import github


def test_terminal_shows_source_lines_and_a_blob_bar():
    out = io.StringIO()
    progress = TerminalProgress(out, terminal=True)
    progress("scanning acme/app")
    progress.meter("acme/app", 3, 10, 3 << 20, 10 << 20)
    progress.meter("acme/app", 10, 10, 10 << 20, 10 << 20)
    text = out.getvalue()
    assert "scanning acme/app" in text
    assert "3/10 blobs" in text and "10/10 blobs" in text
    assert "B/s" in text  # the speed column
    assert progress._bar is None  # finished: the bar is gone


def test_not_a_terminal_prints_nothing():
    out = io.StringIO()
    progress = TerminalProgress(out, terminal=False)
    progress("scanning acme/app")
    progress.meter("acme/app", 3, 10, 3 << 20, 10 << 20)
    assert out.getvalue() == "" and progress._bar is None


def test_pipeline_meters_a_history_scan(make_repo, rng, monkeypatch):
    """The pipeline hands the progress callback's meter to the git history source, which reports
    blobs as its segments finish, up to every blob."""
    monkeypatch.setattr(git_history, "SEGMENT_BYTES", 64)
    r = make_repo("metered")
    for i in range(6):
        r.write(f"f{i}.py", f"x = {i}\n" * 20 + (f"T = '{github(rng)}'\n" if i == 2 else ""))
        r.commit(f"c{i}")
    calls = []

    class Recorder:
        def __call__(self, msg):
            calls.append(msg)

        def meter(self, *args):
            calls.append(args)

    result = run_scan([str(r.path)], progress=Recorder())
    assert len(result.credentials) == 1
    meters = [c for c in calls if isinstance(c, tuple)]
    assert calls[0] == "scanning acme/metered" and len(meters) >= 6
    name, done, total, bdone, btotal = meters[-1]
    assert (name, done) == ("acme/metered", total) and bdone == btotal > 0
