"""Errors that reach the user as one line and an exit code (see STYLE.md: 0 clean, 1 findings,
2 usage or configuration, 3 incomplete scan). Nothing here ever carries a secret value."""

from __future__ import annotations

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class SprawlscanError(Exception):
    """A failure the user can act on; `str()` is the one-line message."""

    exit_code = EXIT_USAGE


class ConfigError(SprawlscanError):
    """Bad flags, a missing path, a malformed rule file or inventory."""

    exit_code = EXIT_USAGE


class SourceError(SprawlscanError):
    """A source could not be read (whole or part); the scan is marked incomplete."""

    exit_code = EXIT_INCOMPLETE
