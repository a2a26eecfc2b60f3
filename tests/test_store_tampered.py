"""A datastore row altered by hand (or by an attacker sharing the file) is one line and exit 2 on
the next scan, never a traceback printed by a worker thread."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from tokens import github


def _scan(repo, db) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scanner", "scan", "--format", "json", "--db",
                           str(db), str(repo)], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items() if k != "SPRAWLSCAN_DEBUG"})


@pytest.mark.parametrize("table, update", [
    ("repo_attribution", "UPDATE repo_attribution SET data = X'00ff00ff'"),
    ("blob_matches", "UPDATE blob_matches SET captures = '[1, 2'"),
])
def test_tampered_row_is_one_line_exit_2(make_repo, rng, tmp_path, table, update):
    """First scan records the repository; a row of `table` is corrupted; the rescan exits 2 with
    one stderr line naming the table, and no traceback."""
    r = make_repo("t")
    r.write("a.py", f"T = '{github(rng)}'\n")
    r.commit("a")
    db = tmp_path / "s.db"
    assert _scan(r.path, db).returncode == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        conn.execute(update)
    p = _scan(r.path, db)
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert line.startswith("sprawlscan: datastore row of ") and table in line
    assert "Traceback" not in p.stderr
