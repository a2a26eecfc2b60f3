"""The command line's first step (the `sprawlscan` script and `python -m scanner`): for a plain
history scan of one git repository, start git's two long reads of it, the history walk and the
object store's listing, before Python imports the rest of the scanner (about 0.06 s), so that git
works on another core meanwhile. `scanner.sources.git_history` adopts them (`take`) when it would
run exactly the same git command line (same repository path, same arguments, same safety
overrides: both come from `scanner.gitcmd.command`); whatever is not adopted is stopped as soon
as the scan's sources are known (`release`) and at exit.

Nothing starts unless the arguments say for sure that the scan will run these commands: the
`scan` command, one target that is a repository folder (a `.git` folder, or a bare repository;
`git:` prefix allowed), no datastore (`--db`, `$SPRAWLSCAN_DB`: a rescan reads its cache instead),
and only options from `OPTIONS`, none of which changes how history is read. Anything else (a usage
error, `--help`, `--staged`, a `.git` file, any failure here) starts nothing, and the scan runs as
it would without this module."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import IO

from scanner import gitcmd

OPTIONS = {"--format": True, "--output": True, "-o": True, "--fail-on": True, "--verbose": False,
           "-v": False, "--max-file-size": True, "--exclude": True, "--no-default-excludes": False,
           "--rules": True, "--allowlist": True, "--workers": True, "--inventory": True}
"""The `scan` options a pre-start allows, each with whether it takes a value."""

_STARTED: list[Background] = []


class Background:
    """One git command in a repository with its output going to unnamed temporary files, not a
    pipe: `git log --reverse` computes each commit's diff as it writes, so a pipe nobody reads
    yet would stop it, and a process forked meanwhile would hold the pipe's end."""

    def __init__(self, repo: Path, args: Sequence[str], config: Sequence[str]) -> None:
        import tempfile

        self.repo = repo
        self.out: IO[bytes] = tempfile.TemporaryFile()
        self.err: IO[bytes] = tempfile.TemporaryFile()
        try:
            self.proc = gitcmd.popen(repo, *args, config=config, stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.err)
            self.argv = list(self.proc.args)  # type: ignore[arg-type]
        except BaseException:
            self.out.close()
            self.err.close()
            raise

    def wait(self) -> tuple[int, bytes, bytes]:
        """(exit status, output, error output) once git is done; the files are then closed."""
        try:
            code = self.proc.wait()
            self.out.seek(0)
            out = self.out.read()
            err = b""
            if code != 0:
                self.err.seek(0)
                err = self.err.read()
            return code, out, err
        finally:
            self.close()

    def close(self) -> None:
        """Stop git if it still runs and drop its output."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


def take(repo: Path, args: Sequence[str], config: Sequence[str]) -> Background | None:
    """The command started ahead whose git command line is exactly this one (then no longer
    held here), else None."""
    if not _STARTED:
        return None
    argv = gitcmd.command(repo, *args, config=config)
    for started in _STARTED:
        if started.argv == argv:
            _STARTED.remove(started)
            return started
    return None


def release(keep: Collection[Path] = ()) -> None:
    """Stop every command started ahead and not adopted, but those in a repository of `keep`
    (which the scan is about to adopt)."""
    for started in [s for s in _STARTED if s.repo not in keep]:
        _STARTED.remove(started)
        started.close()


def target(argv: Sequence[str]) -> Path | None:
    """The repository a `scan` command line reads the history of, when nothing in it may change
    that (see the module's docstring), else None."""
    if not argv or argv[0] != "scan" or os.environ.get("SPRAWLSCAN_DB"):
        return None
    targets: list[str] = []
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            targets += rest
            break
        if not arg.startswith("-") or arg == "-":
            targets.append(arg)
            continue
        name, eq, _ = arg.partition("=")
        takes = OPTIONS.get(name)
        if takes is None or (eq and not takes) or (not name.startswith("--") and eq):
            return None
        if takes and not eq:
            if not rest:
                return None
            rest.pop(0)
    if len(targets) != 1:
        return None
    path = Path(targets[0].removeprefix("git:"))
    dot = path / ".git"
    if dot.is_dir() and not dot.is_symlink():
        return path
    if (not os.path.lexists(dot) and (path / "HEAD").is_file() and (path / "objects").is_dir()
            and not (path / "commondir").exists()):
        return path
    return None


def start(argv: Sequence[str], commands: Sequence[tuple[Sequence[str], Sequence[str]]]) -> None:
    """Start `commands` ((args, config) each) in the repository `argv` scans, if it scans one."""
    try:
        repo = target(argv)
        if repo is None:
            return
        if not _STARTED:
            atexit.register(release)
        for args, config in commands:
            _STARTED.append(Background(repo, args, config))
    except Exception:  # noqa: BLE001 - the scan then starts them itself, or says what is wrong
        release()


def main() -> None:
    start(sys.argv[1:], gitcmd.HISTORY_READS)
    from scanner.cli import main as cli

    cli()
