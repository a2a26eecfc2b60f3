"""Output safety, shared by every report for people and by the CLI's stderr lines: untrusted text
(file and repository names, ticket keys, server error messages, redacted previews) is neutralised
before it reaches a terminal, a Markdown comment or a CI log, and report files are written without
following symlinks.

`clean(s)` shows every control character escaped (`\\x1b`, `\\r`, `\\u202e`...): no OSC 8 link,
window title, carriage-return overwrite, bell or bidi reordering can come through. `console(buf)`
is a rich console that reads no markup and no emoji codes, so a path like `x[/]y.txt` is text.
`write_text(path, text)` writes to a temporary file in the target folder and renames it over the
target; it refuses to replace a symlink. JSON and SARIF need no cleaning: their encoders escape."""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import SprawlscanError

if TYPE_CHECKING:  # rich loads only when a text report is drawn (start-up time)
    from rich.console import Console

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def clean(text: object) -> str:
    """`text` as a string with every control, line-separator and bidi character shown escaped."""
    return _UNSAFE.sub(_escape, str(text))


def console(buf: io.StringIO, width: int = 160) -> Console:
    """A rich console for a text report: no colour, no markup, no emoji codes, no highlighting."""
    from rich.console import Console

    return Console(file=buf, width=width, no_color=True, highlight=False, markup=False, emoji=False)


def md_cell(text: object) -> str:
    """One Markdown table cell: cleaned, pipes escaped, HTML tags and backticks inert."""
    return (clean(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("`", "'"))


def write_text(path: Path, text: str) -> None:
    """Write a report file: see `replace_file`."""
    replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def replace_file(path: Path, write: Callable[[Path], object]) -> None:
    """Call `write` on a temporary file next to `path`, then rename it to `path`. A symlink at
    `path` is refused (a report never writes through a link planted in a shared folder)."""
    if path.is_symlink():
        raise SprawlscanError(f"{clean(path)}: refusing to replace a symlink with the report")
    folder = path.parent
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise SprawlscanError(f"{clean(path)}: cannot write report ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(name)
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a report gets the usual mode
    try:
        write(tmp)
        if path.exists() and not path.is_file():
            raise SprawlscanError(f"{clean(path)}: not a regular file, report not written")
        os.replace(tmp, path)
    except OSError as exc:
        raise SprawlscanError(f"{clean(path)}: cannot write report ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)
