"""What the CLI shows while a scan runs, on stderr and only when stderr is a terminal: each
source's name as a line, and inside a source that meters itself (`scanner.sources.base.Meter`:
the git history scan) a `rich` progress bar with blobs done / total, MB/s and the time left.
The pipeline and the sources only call the callback; they never print."""

from __future__ import annotations

import sys
from typing import IO, Any

from scanner.reports.safe import clean


class TerminalProgress:
    """The progress callback of the CLI: `progress(message)`, and `progress.meter(...)` for a
    source's own progress. Silent when the stream is not a terminal."""

    def __init__(self, stream: IO[str] | None = None, terminal: bool | None = None) -> None:
        self.stream = stream
        self.terminal = terminal
        self._bar: Any = None
        self._task: Any = None

    def _on(self) -> bool:
        stream = self.stream or sys.stderr
        return self.terminal if self.terminal is not None else stream.isatty()

    def __call__(self, msg: str) -> None:
        if not self._on():
            return
        self.close()
        print(clean(msg), file=self.stream or sys.stderr, flush=True)

    def meter(self, name: str, done: int, total: int, bytes_done: int, bytes_total: int) -> None:
        if not self._on():
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            console = Console(file=self.stream or sys.stderr,
                              force_terminal=True if self.terminal else None)
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[blobs]}"), TransferSpeedColumn(),
                                 TimeRemainingColumn(), console=console, transient=True)
            from rich.markup import escape

            self._task = self._bar.add_task(escape(clean(name)), total=bytes_total or 1, blobs="")
        self._bar.update(self._task, completed=bytes_done, total=bytes_total or 1,
                         blobs=f"{done}/{total} blobs")
        if not self._bar.live.is_started:
            self._bar.start()
        if bytes_done >= bytes_total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None
