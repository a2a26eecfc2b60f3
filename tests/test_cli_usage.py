"""Usage mistakes get one line and exit 2 before any work: a non-hexadecimal fingerprint for
`history`, and an HTML page aimed at a terminal."""

from __future__ import annotations

import os
import random
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from tokens import github

from scanner.cli import main
from scanner.pipeline import ScanOptions, scan_and_record
from scanner.store import Store


def test_history_refuses_a_fingerprint_that_is_not_hex(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.env").write_text(f"GITHUB_TOKEN={github(random.Random())}\n")
    db = tmp_path / "s.db"
    with Store(db) as store:
        scan_and_record([str(src)], ScanOptions(), store)
    bad = CliRunner().invoke(main, ["history", "zzzz", "--db", str(db)])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == [
        "sprawlscan: zzzz: a fingerprint (or a prefix of one) is hexadecimal"]
    good = CliRunner().invoke(main, ["history", "--db", str(db), "--format", "json"])
    assert good.exit_code == 0 and '"found"' in good.output


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run the CLI with stdout on a real pseudo-terminal; give the exit code and what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *args], stdout=slave,
                            stderr=subprocess.PIPE, cwd=cwd)
    os.close(slave)
    out = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal's other side closed
            break
        if not data:
            break
        out += data
    os.close(master)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, out + err


def test_html_to_a_terminal_is_refused_before_scanning(tmp_path):
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={github(random.Random())}\n")
    for args in (["scan", str(tmp_path), "--format", "html"],
                 ["audit", str(tmp_path), "--format", "html"],
                 ["survivors", "some-agent", str(tmp_path), "--format", "html"]):
        code, out = _on_a_terminal(args, tmp_path)
        assert code == 2, (args, out[-300:])
        assert b"--format html writes a page: give --output FILE" in out
        assert b"<html" not in out.lower()


def test_html_to_a_pipe_or_file_is_written(tmp_path):
    (tmp_path / "a.env").write_text(f"GITHUB_TOKEN={github(random.Random())}\n")
    piped = subprocess.run([sys.executable, "-m", "scanner", "scan", str(tmp_path), "--format", "html"],
                           capture_output=True, cwd=tmp_path, timeout=120)
    assert piped.returncode == 1 and b"<html" in piped.stdout.lower()
    page = tmp_path / "r.html"
    code, _ = _on_a_terminal(["scan", str(tmp_path), "--format", "html", "--output", str(page)], tmp_path)
    assert code == 1 and b"<html" in page.read_bytes().lower()
