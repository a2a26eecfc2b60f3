"""Errors that reach the user as one line and an exit code (see STYLE.md: 0 clean, 1 findings,
2 usage or configuration, 3 incomplete scan, 4 internal error: a bug to report). Nothing here ever
carries a secret value: an internal error is described by its type, the place in our code that
raised it and the unit being worked on (notes added with `where`), never by its message, which
may quote the data."""

from __future__ import annotations

import os
import traceback

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERNAL = 4


class SprawlscanError(Exception):
    """A failure the user can act on; `str()` is the one-line message."""

    exit_code = EXIT_USAGE


class ConfigError(SprawlscanError):
    """Bad flags, a missing path, a malformed rule file or inventory."""

    exit_code = EXIT_USAGE


class SourceError(SprawlscanError):
    """A source could not be read (whole or part); the scan is marked incomplete."""

    exit_code = EXIT_INCOMPLETE


class DatastoreBusy(SprawlscanError):
    """Another writer held the datastore longer than the lock timeout: this write stored
    nothing, so the scan is not recorded as finished (it shows up as incomplete)."""

    exit_code = EXIT_INCOMPLETE


def where(exc: BaseException, unit: str) -> None:
    """Name the unit (file, chunk, datastore row) an unexpected exception happened on, once."""
    note = f"while {unit}"
    if note not in (getattr(exc, "__notes__", None) or ()):
        exc.add_note(note)


def internal_error_message(exc: BaseException) -> str:
    """One line for a bug: the exception type, where our code raised it, the unit being worked on
    (innermost first), and where to report it. The exception's own text is left out."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/scanner/" in f.filename or "/detectors/" in f.filename]
    candidates = ours or list(frames)
    frame = candidates[-1] if candidates else None
    at = (f" in {os.path.basename(frame.filename)}:{frame.lineno} ({frame.name})"
          if frame is not None else "")
    notes = "; ".join(getattr(exc, "__notes__", None) or ())
    unit = f" {notes}" if notes else ""
    return (f"internal error: {type(exc).__name__}{at}{unit}; this is a bug in sprawlscan, please "
            "report it with this line (SPRAWLSCAN_DEBUG=1 shows the traceback)")
