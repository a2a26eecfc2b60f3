"""Output safety: untrusted names never reach a terminal, Markdown or stderr as markup or escape
sequences; report files are never written through a symlink; an internal error is one line, exit 4,
naming the unit it happened on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.errors import EXIT_INTERNAL
from scanner.model import Credential, Location, ScanResult, ScanStats
from scanner.reports import render
from scanner.reports.safe import clean
from tokens import github, openai_project

OSC8 = "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07"
TITLE = "\x1b]0;pwned\x07"
RAW_CONTROL = ("\x1b", "\x07", "\r", "\x9b", "\u202e")


def _hostile_result() -> ScanResult:
    name = f"{OSC8}{TITLE}a\rb\u202ec[/]d[bold]e.txt"
    loc = Location("jira", f"PROJ{TITLE}", f"KEY-1{OSC8}", line=3)
    cred = Credential("ab" * 32, "x.rule", "x", f"\x1b[2Jsk-\x07…(40)",
                      (Location("file", "", name, line=1), loc))
    return ScanResult((cred,), ScanStats(errors=[f"server said: {TITLE}\x9b31m boom\r"]))


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_control_characters_are_shown_escaped(fmt):
    """File names, ticket keys, previews and server errors reach the table and Markdown with
    every control character escaped, and rich markup in a name is printed as text."""
    out = render(_hostile_result(), fmt)
    for ch in RAW_CONTROL:
        assert ch not in out
    assert "\\x1b]8;;https://evil.example/\\x07click" in out
    assert "\\x1b]0;pwned\\x07" in out and "\\u202e" in out and "\\r" in out
    if fmt == "markdown":
        assert "[/]d[bold]e.txt" in out


def test_bracket_path_does_not_crash_the_table(tmp_path, rng):
    """A file named `x[/]y.txt` holding a secret is a table row, not a rich markup error."""
    (tmp_path / "x[").mkdir()
    (tmp_path / "x[/]y.txt").write_text(f"token = '{github(rng)}'\n")
    res = CliRunner().invoke(main, ["scan", "--format", "table", str(tmp_path)])
    assert res.exit_code == 1, res.output
    assert "x[/]y.txt" in res.output


def test_escape_sequences_in_a_scanned_file_name(tmp_path, rng):
    """A real file whose name carries an OSC 8 link and a title sequence: table and Markdown show
    it escaped; stderr's one-line error about a hostile path is escaped too."""
    osc8 = "\x1b]8;;evil.example\x07click\x1b]8;;\x07"  # a file name holds no slash
    (tmp_path / f"{TITLE}k{osc8}.env").write_text(f"OPENAI_API_KEY={openai_project(rng)}\n")
    for fmt in ("table", "markdown"):
        res = CliRunner().invoke(main, ["scan", "--format", fmt, str(tmp_path)])
        assert res.exit_code == 1, res.output
        assert "\x1b" not in res.output and "\x07" not in res.output
        assert "\\x1b]0;pwned\\x07k" in res.output
    res = CliRunner().invoke(main, ["scan", str(tmp_path / f"missing{TITLE}\r")])
    assert res.exit_code == 2
    assert "\x1b" not in res.output and "\r" not in res.output and "\\x1b]0;pwned" in res.output


def test_clean_escapes_c0_c1_and_bidi():
    """Every C0/C1 control, DEL, line separators and bidi overrides are escaped; text is kept."""
    assert clean("a\x00b\x1bc\x7fd\x85e\u2028f\u202eg\u2066h\té\n") == \
        "a\\x00b\\x1bc\\x7fd\\x85e\\u2028f\\u202eg\\u2066h\\té\\n"


def test_output_refuses_to_replace_a_symlink(tmp_path, rng):
    """`--output` pointing at a symlink is refused (exit 2) and the link's target is untouched."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.env").write_text(f"OPENAI_API_KEY={openai_project(rng)}\n")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    res = CliRunner().invoke(main, ["scan", "--format", "json", "-o", str(link),
                                    str(tmp_path / "src")])
    assert res.exit_code == 2
    assert "symlink" in res.output
    assert victim.read_text() == "precious\n" and link.is_symlink()
    (tmp_path / "g").mkdir()
    graph_link = tmp_path / "g" / "graph.json"
    graph_link.symlink_to(victim)
    res = CliRunner().invoke(main, ["graph", "--format", "json", "-o", str(graph_link),
                                    str(tmp_path / "src")])
    assert res.exit_code == 2 and victim.read_text() == "precious\n"


def test_output_replaces_a_regular_file_atomically(tmp_path, rng):
    """A report replaces an existing regular file through a rename; no temporary file is left."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.env").write_text(f"OPENAI_API_KEY={openai_project(rng)}\n")
    out = tmp_path / "out" / "report.json"
    out.parent.mkdir()
    out.write_text("old\n")
    inode = out.stat().st_ino
    res = CliRunner().invoke(main, ["scan", "--format", "json", "-o", str(out), str(tmp_path / "src")])
    assert res.exit_code == 1
    assert len(json.loads(out.read_text())["findings"]) == 1
    assert out.stat().st_ino != inode
    assert os.listdir(out.parent) == ["report.json"]
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_internal_error_is_one_line_exit_4_naming_the_file(tmp_path, rng, monkeypatch):
    """An unexpected exception while scanning one file: exit 4 (not 2), one line naming the
    exception type, our code's place and the file, asking for a bug report; the exception's own
    text (which may quote data) is not shown."""
    from scanner.engine import Engine

    secret = openai_project(rng)
    (tmp_path / "boom.env").write_text(f"OPENAI_API_KEY={secret}\n")

    def broken(self, data):
        raise KeyError(data.decode())

    monkeypatch.setattr(Engine, "scan", broken)
    monkeypatch.delenv("SPRAWLSCAN_DEBUG", raising=False)
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(tmp_path)])
    assert res.exit_code == EXIT_INTERNAL == 4
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("sprawlscan: internal error: KeyError in ")
    assert "boom.env" in line and "bug" in line
    assert secret not in line and secret not in res.stdout


def test_path_objects_in_errors_are_clean(tmp_path):
    """`clean` accepts any object (paths, ints)."""
    assert clean(Path("a\x1bb")) == "a\\x1bb" and clean(3) == "3"
