"""The command line: parse, call one library function, print, exit. Exit codes: 0 clean,
1 findings, 2 usage or configuration error, 3 incomplete scan (report still written)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from scanner import __version__
from scanner.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_USAGE,
    SprawlscanError,
)
from scanner.pipeline import ScanOptions, run_scan
from scanner.reports import FORMATS, render

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(fn: F) -> F:
    """Turn every failure into one line on stderr and an exit code; never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SprawlscanError as exc:
            click.echo(f"sprawlscan: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("sprawlscan: interrupted", err=True)
            sys.exit(EXIT_INCOMPLETE)
        except Exception as exc:
            if os.environ.get("SPRAWLSCAN_DEBUG"):
                raise
            click.echo(f"sprawlscan: internal error: {type(exc).__name__}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


def emit(text: str, output: Path | None) -> None:
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SprawlscanError(f"{output}: cannot write report ({exc.strerror})") from None
    else:
        click.echo(text, nl=False)


def progress(msg: str) -> None:
    if sys.stderr.isatty():
        click.echo(msg, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sprawlscan")
def main() -> None:
    """Find where AI and non-human-identity credentials have sprawled."""


def load_allowlist(path: Path | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SprawlscanError(f"{path}: cannot read allowlist ({exc.strerror})") from None
    return frozenset(ln.split("#", 1)[0].strip().lower() for ln in lines if ln.split("#", 1)[0].strip())


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Report format (default: table on a terminal, else json).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--no-history", is_flag=True, help="Scan git working trees only, not history.")
@click.option("--max-file-size", type=click.IntRange(min=1), default=100 * 1024 * 1024,
              show_default=True, help="Skip files and blobs larger than this many bytes.")
@click.option("--rules", "rule_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule file.")
@click.option("--allowlist", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File of SHA-256 fingerprints never to report.")
@click.option("--exclude", multiple=True, help="Path glob to skip (replaces the default list).")
@click.option("--github-url", default=None, metavar="URL",
              help="GitHub API base for github: sources (GitHub Enterprise: https://HOST/api/v3).")
@click.option("--gitlab-url", default=None, metavar="URL",
              help="GitLab instance for gitlab: sources (default https://gitlab.com).")
@click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
              help="Where forge repositories are cloned and reused (default .sprawlscan/cache).")
@click.option("--jql", default=None, help="JQL selecting the issues of a jira: source.")
@click.option("--spaces", default=None, help="Comma-separated space keys of a confluence: source.")
@click.option("--vault-path", default=None, help="Mount or mount/path a vault: source starts from.")
@one_line_errors
def scan(sources: tuple[str, ...], fmt: str | None, output: Path | None, no_history: bool,
         max_file_size: int, rule_files: tuple[Path, ...], allowlist: Path | None,
         exclude: tuple[str, ...], github_url: str | None, gitlab_url: str | None,
         cache_dir: str | None, jql: str | None, spaces: str | None,
         vault_path: str | None) -> None:
    """Scan SOURCES (paths, git repositories, github:ORG[/REPO], gitlab:GROUP, jira:URL,
    confluence:URL, vault:URL, vault-export:FILE, jira-export:FILE, confluence-export:FILE) for
    credentials. Tokens come from GITHUB_TOKEN, GITLAB_TOKEN, VAULT_TOKEN..."""
    extra = {k: v for k, v in (("github_url", github_url), ("gitlab_url", gitlab_url),
                               ("cache_dir", cache_dir), ("jql", jql),
                               ("confluence_spaces", spaces), ("vault_path", vault_path)) if v}
    options = ScanOptions(max_file_size=max_file_size, history=not no_history,
                          rule_files=rule_files, allowlist=load_allowlist(allowlist),
                          exclude=exclude or None, extra=extra)
    result = run_scan(sources, options, progress=progress)
    fmt = fmt or ("table" if sys.stdout.isatty() and output is None else "json")
    emit(render(result, fmt), output)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {err}", err=True)
    if result.incomplete:
        sys.exit(EXIT_INCOMPLETE)
    sys.exit(EXIT_FINDINGS if result.credentials else EXIT_CLEAN)


@main.group()
def rules() -> None:
    """List and check detection rules."""


@rules.command("list")
@click.option("--rules", "rule_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@one_line_errors
def rules_list(rule_files: tuple[Path, ...]) -> None:
    """Every rule: id, provider, lifetime hint."""
    from detectors.loader import load_rules

    for rule in load_rules(list(rule_files)):
        click.echo(f"{rule.id}\t{rule.provider}\t{rule.lifetime_hint}")


@rules.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def rules_check(files: tuple[Path, ...]) -> None:
    """Run every example and negative example of FILES (default: the built-in rules)."""
    from detectors.check import check_rule_examples
    from detectors.loader import load_rules

    rules_ = load_rules(list(files), builtin=not files)
    failures = check_rule_examples(rules_)
    for f in failures:
        click.echo(f"FAIL {f.rule_id}:{f.label}: {f.problem}")
    click.echo(f"{len(rules_)} rule(s), {len(failures)} failure(s)")
    sys.exit(EXIT_FINDINGS if failures else EXIT_CLEAN)
