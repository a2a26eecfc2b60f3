"""The command line: parse, call one library function, print, exit. Exit codes: 0 clean,
1 findings (at or above `--fail-on`), 2 usage or configuration error, 3 incomplete scan (report
still written), 4 internal error (a bug). Everything untrusted printed here goes through
`scanner.reports.safe.clean` (no terminal escape sequences)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from scanner import __version__
from scanner.config import Flags, load_allowlist, scan_options
from scanner.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_INTERNAL,
    EXIT_USAGE,
    ConfigError,
    SprawlscanError,
    internal_error_message,
)
from scanner.gate import (
    SEVERITIES,
    apply_baseline,
    exit_code,
    write_baseline,
)
from scanner.pipeline import ScanOptions, record_or_scan, run_scan
from scanner.progress import TerminalProgress
from scanner.verify.base import VerifyOptions
from scanner.reports import FORMATS, render
from scanner.reports.safe import clean, replace_file, write_text
from scanner.reports.changes import (
    VIEW_FORMATS,
    render_diff,
    render_events,
    render_scans,
)

F = TypeVar("F", bound=Callable[..., Any])


DbLocation = Path | str
"""A SQLite file, or a `postgresql://` URL (kept a string: a `Path` would fold its `//`)."""


class DbParam(click.ParamType):
    """`--db`: a SQLite file path, or a `postgresql://USER[:PASS]@HOST:PORT/DB` URL."""

    name = "PATH|URL"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> DbLocation:
        text = str(value)
        return text if text.startswith(("postgresql://", "postgres://")) else Path(text)


DB = DbParam()


def db_path(explicit: DbLocation | None, *, default: bool) -> DbLocation | None:
    if explicit is None and not default and not os.environ.get("SPRAWLSCAN_DB"):
        return None  # a plain scan records nothing (`scanner.store.ENV_DB`): no sqlite3 loaded
    from scanner.store import db_path  # the datastore (sqlite3) loads only when used

    return db_path(explicit, default=default)


def open_existing(db: DbLocation | None) -> Any:
    from scanner.store import open_existing

    return open_existing(db)

__all__ = ["load_allowlist", "main"]


def one_line_errors(fn: F) -> F:
    """Turn every failure into one line on stderr and an exit code; never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SprawlscanError as exc:
            click.echo(f"sprawlscan: {clean(exc)}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("sprawlscan: interrupted", err=True)
            sys.exit(EXIT_INCOMPLETE)
        except BrokenPipeError:
            # the reader went away (`| head`): end quietly, and not as "clean" for a pipefail gate
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_FINDINGS)
        except Exception as exc:
            if os.environ.get("SPRAWLSCAN_DEBUG"):
                raise
            click.echo(f"sprawlscan: {clean(internal_error_message(exc))}", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def html_needs_a_file(fmt: str | None, output: Path | None) -> None:
    """An HTML page is a file to open, not text for a terminal: refuse before scanning."""
    if fmt == "html" and output is None and sys.stdout.isatty():
        raise ConfigError("--format html writes a page: give --output FILE (or redirect stdout)")


def emit(text: str, output: Path | None) -> None:
    if output:
        write_text(output, text)
    else:
        click.echo(text, nl=False)


progress = TerminalProgress()
"""Lines and a progress bar on stderr when it is a terminal (`scanner.progress`)."""


def engine_line() -> str:
    """Which prefilter backend a scan would use here (`$SPRAWLSCAN_ENGINE` or what is installed)."""
    from scanner.engine import select_backend

    return f"engine: {select_backend()}"


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    try:
        click.echo(f"sprawlscan {__version__} ({engine_line()})")
    except SprawlscanError as exc:
        click.echo(f"sprawlscan: {clean(exc)}", err=True)
        ctx.exit(exc.exit_code)
    ctx.exit(EXIT_CLEAN)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=show_version,
              help="Show the version and the scan engine's backend, and exit.")
def main() -> None:
    """Find where AI and non-human-identity credentials have sprawled."""


_SCAN_OPTIONS = [
    click.option("--no-history", is_flag=True, help="Scan git working trees only, not history."),
    click.option("--max-file-size", type=click.IntRange(min=1), default=None,
                 help="Skip files and blobs larger than this many bytes (default 100 MiB)."),
    click.option("--rules", "rule_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="Extra rule file (our format or a gitleaks config)."),
    click.option("--exclude", multiple=True, help="Path glob to skip (added to the default list)."),
    click.option("--no-default-excludes", is_flag=True,
                 help="Drop the default exclusions (VCS folders, vendored code, media, archives)."),
    click.option("--workers", type=click.IntRange(min=1), default=None,
                 help="Local processes scanning repositories and sources in parallel (default: "
                      "$SPRAWLSCAN_WORKERS, else one per core)."),
    click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
                 help="Run the per-repository / per-source work on this Dask distributed "
                      "cluster (needs sprawlscan[cluster]; workers have sprawlscan installed)."),
]
"""The scan options the graph commands share with `scan` (they scan their SOURCES the same way)."""


def scan_flags(fn: F) -> F:
    """The options every scanning command shares."""
    for opt in reversed([
        *_SCAN_OPTIONS,
        click.option("--allowlist", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="File of SHA-256 fingerprints (or unique prefixes of 12+ hex digits) never to "
                          "report (adds to sprawlscan.toml [allowlist])."),
        click.option("--staged", is_flag=True,
                     help="Scan only what is staged in the index of the git repository (default: .)."),
        click.option("--diff", "rev_range", metavar="BASE..HEAD", default=None,
                     help="Scan only what the commits of BASE..HEAD introduce (a pull request)."),
        click.option("--since-commit", metavar="REV", default=None,
                     help="Scan only what the commits after REV introduce (REV..HEAD)."),
        click.option("--github-url", default=None, metavar="URL",
                     help="GitHub API base for github: sources (GitHub Enterprise: "
                          "https://HOST/api/v3)."),
        click.option("--gitlab-url", default=None, metavar="URL",
                     help="GitLab instance for gitlab: sources (default https://gitlab.com)."),
        click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                     help="Where forge repositories are cloned and reused (default "
                          ".sprawlscan/cache)."),
        click.option("--jql", default=None, help="JQL selecting the issues of a jira: source."),
        click.option("--spaces", default=None,
                     help="Comma-separated space keys of a confluence: source."),
        click.option("--vault-path", default=None,
                     help="Mount or mount/path a vault: source starts from."),
    ]):
        fn = opt(fn)
    return fn


def build_options(no_history: bool, max_file_size: int | None, rule_files: tuple[Path, ...],
                  allowlist: Path | None, exclude: tuple[str, ...], staged: bool,
                  rev_range: str | None, since_commit: str | None, github_url: str | None = None,
                  gitlab_url: str | None = None, cache_dir: str | None = None,
                  jql: str | None = None, spaces: str | None = None,
                  vault_path: str | None = None, no_default_excludes: bool = False,
                  workers: int | None = None, scheduler: str | None = None,
                  targets: tuple[str, ...] = ()) -> ScanOptions:
    if sum(bool(x) for x in (staged, rev_range, since_commit)) > 1:
        raise ConfigError("--staged, --diff and --since-commit exclude each other")
    extra = {k: v for k, v in (("github_url", github_url), ("gitlab_url", gitlab_url),
                               ("cache_dir", cache_dir), ("jql", jql),
                               ("confluence_spaces", spaces), ("vault_path", vault_path)) if v}
    rev_range = rev_range or (f"{since_commit}..HEAD" if since_commit else None)
    # CI modes: the configuration comes from the base, never from the change being checked
    ci_base = "HEAD" if staged else (rev_range.split("..", 1)[0] or "HEAD") if rev_range else None
    options = scan_options(Flags(max_file_size, no_history, rule_files, allowlist, exclude,
                                 no_default_excludes), targets=targets, ci_base=ci_base)
    return replace(options, extra=extra, staged=staged, rev_range=rev_range, workers=workers,
                   scheduler=scheduler)


def verify_flags(fn: F) -> F:
    """`--verify` and its settings (scan, survivors, audit, graph, retired)."""
    for opt in reversed([
        click.option("--verify", "verify", is_flag=True,
                     help="Ask each credential's own provider whether it works and whose it is "
                          "(nothing is sent anywhere without this flag)."),
        click.option("--verify-endpoint", "verify_endpoints", multiple=True, metavar="PROVIDER=URL",
                     help="Replace a provider's documented API base (tests, proxies, enterprise "
                          "hosts); https, or http to a loopback address."),
        click.option("--verify-ttl", default="24h", show_default=True,
                     help="With --db, reuse a recorded verification younger than this."),
        click.option("--verify-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     help="Seconds per provider request."),
        click.option("--admin-token", "admin_tokens", multiple=True, metavar="PROVIDER=ENV_NAME",
                     help="With --verify: read the provider's admin key listing (openai, anthropic) with "
                          "the token in $ENV_NAME; listed keys whose hint matches a found credential "
                          "give its owner, project and creation date."),
    ]):
        fn = opt(fn)
    return fn


def verify_options(flags: dict[str, Any]) -> VerifyOptions | None:
    """Pops the `verify_flags` out of `flags`; None without --verify."""
    on = flags.pop("verify", False)
    endpoints = flags.pop("verify_endpoints", ())
    ttl = flags.pop("verify_ttl", "24h")
    timeout = flags.pop("verify_timeout", 10.0)
    admin_tokens = flags.pop("admin_tokens", ())
    if not on:
        if endpoints or admin_tokens:
            raise ConfigError(f"{'--verify-endpoint' if endpoints else '--admin-token'} needs --verify")
        return None
    from scanner.verify import ENDPOINT_KEYS, parse_endpoints
    from scanner.verify.admin import parse_admin_tokens
    from scanner.verify.base import parse_duration

    return VerifyOptions(parse_endpoints(endpoints, set(ENDPOINT_KEYS)), timeout=timeout,
                         ttl=parse_duration(ttl, "--verify-ttl"),
                         admin=parse_admin_tokens(admin_tokens, os.environ))


def default_sources(sources: tuple[str, ...], options: ScanOptions) -> tuple[str, ...]:
    if sources:
        return sources
    if options.mode != "full":
        return (".",)
    raise ConfigError("give at least one SOURCE to scan")


def notify_channels(webhook: str | None, slack: str | None, jira: str | None,
                    project: str | None) -> list[Any]:
    if bool(jira) != bool(project):
        raise ConfigError("--notify-jira and --notify-jira-project go together")
    if not (webhook or slack or jira):
        return []  # scanner.notify (urllib.request, http.client, ssl) loads only when used
    from scanner.notify import Channel

    for url in (webhook, slack, jira):
        if url and not url.startswith(("https://", "http://")):
            raise ConfigError("a notification URL must be http(s)://")
    return [Channel(kind, url, project if kind == "jira" else None)
            for kind, url in (("webhook", webhook), ("slack", slack), ("jira", jira)) if url]


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Report format (default: table on a terminal, else json).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@scan_flags
@click.option("--db", type=DB, default=None,
              help="Record the scan in this datastore (also $SPRAWLSCAN_DB); git blobs it already "
                   "holds are not scanned again.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Report only credentials not in this baseline file.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="low", show_default=True,
              help="Exit 1 only for findings of this severity or above.")
@verify_flags
@click.option("--verbose", "-v", is_flag=True, help="Say which engine backend scans.")
@click.option("--notify-webhook", metavar="URL", default=None,
              help="After a complete scan (--db): POST one JSON per new or reappeared credential.")
@click.option("--notify-slack", metavar="WEBHOOK_URL", default=None,
              help="After a complete scan (--db): one Slack message listing them.")
@click.option("--notify-jira", metavar="URL", default=None,
              help="After a complete scan (--db): one Jira issue each (JIRA_USER/JIRA_TOKEN).")
@click.option("--notify-jira-project", metavar="KEY", default=None, help="Project of those issues.")
@click.option("--inventory", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="agents.yaml or Backstage catalog-info.yaml: notifications name each "
                   "credential's agents and owners, Jira issues are assigned (people: map).")
@one_line_errors
def scan(sources: tuple[str, ...], fmt: str | None, output: Path | None, db: DbLocation | None,
         baseline: Path | None, fail_on: str, verbose: bool, notify_webhook: str | None,
         notify_slack: str | None, notify_jira: str | None, notify_jira_project: str | None,
         inventory: Path | None, **flags: Any) -> None:
    """Scan SOURCES (paths, git repositories, github:ORG[/REPO], gitlab:GROUP, jira:URL,
    confluence:URL, vault:URL, vault-export:FILE, jira-export:FILE, confluence-export:FILE) for
    credentials. Forge tokens come from GITHUB_TOKEN (or GH_TOKEN) and GITLAB_TOKEN."""
    html_needs_a_file(fmt, output)
    verify = verify_options(flags)
    options = replace(build_options(**flags, targets=sources), verify=verify)
    if verbose:
        click.echo(f"sprawlscan: {engine_line()}", err=True)
    result = record_or_scan(default_sources(sources, options), options, db_path(db, default=False),
                            progress=progress, inventory=inventory, notify=notify_channels(
                                notify_webhook, notify_slack, notify_jira, notify_jira_project))
    if baseline:
        result = apply_baseline(result, load_allowlist(baseline))
    fmt = fmt or ("table" if sys.stdout.isatty() and output is None else "json")
    emit(render(result, fmt), output)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {clean(err)}", err=True)
    sys.exit(exit_code(result, fail_on))


@main.group()
def baseline() -> None:
    """Baselines: fingerprints known today, so that CI reports only new credentials."""


@baseline.command("create")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("sources", nargs=-1)
@scan_flags
@one_line_errors
def baseline_create(file: Path, sources: tuple[str, ...], **flags: Any) -> None:
    """Write the fingerprints of every credential in SOURCES (default: .) to FILE."""
    options = build_options(**flags, targets=sources)
    result = run_scan(sources or (".",), options, progress=progress)
    n = write_baseline(result, file)
    click.echo(f"{n} fingerprint(s) written to {file}", err=True)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {clean(err)}", err=True)
    sys.exit(EXIT_INCOMPLETE if result.incomplete else EXIT_CLEAN)


DB_OPTION = click.option("--db", type=DB, default=None,
                         help="Datastore: a SQLite file or postgresql:// URL (default: "
                              "$SPRAWLSCAN_DB, else .sprawlscan/sprawlscan.db).")


@main.command()
@click.argument("fingerprint", required=False)
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(VIEW_FORMATS), default="table", show_default=True)
@one_line_errors
def history(fingerprint: str | None, db: DbLocation | None, fmt: str) -> None:
    """The datastore's event log (for one credential when FINGERPRINT, or a prefix, is given)."""
    if fingerprint is not None and not all(c in "0123456789abcdefABCDEF" for c in fingerprint):
        raise ConfigError(f"{clean(fingerprint)}: a fingerprint (or a prefix of one) is hexadecimal")
    with open_existing(db) as store:
        click.echo(render_events(store.events(fingerprint), fmt), nl=False)


@main.command("scans")
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(VIEW_FORMATS), default="table", show_default=True)
@one_line_errors
def list_scans(db: DbLocation | None, fmt: str) -> None:
    """The scans recorded in the datastore (ids for `diff`)."""
    with open_existing(db) as store:
        click.echo(render_scans(store.scans(), fmt), nl=False)


@main.command("diff")
@click.argument("scans", nargs=-1, type=int)
@DB_OPTION
@click.option("--format", "fmt", type=click.Choice(VIEW_FORMATS), default="table", show_default=True)
@one_line_errors
def diff_scans(scans: tuple[int, ...], db: DbLocation | None, fmt: str) -> None:
    """New / still present / gone credentials between SCAN_A and SCAN_B (default: the latest
    scan and the previous one of the same sources)."""
    if len(scans) not in (0, 2):
        raise ConfigError("give two scan ids (SCAN_A SCAN_B) or none")
    with open_existing(db) as store:
        click.echo(render_diff(store.diff(*scans) if scans else store.diff(), fmt), nl=False)


@main.group()
def rules() -> None:
    """List and check detection rules."""


@rules.command("list")
@click.option("--rules", "rule_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--verifiers", is_flag=True,
              help="The providers `--verify` asks instead: base URL, call, rules, documentation.")
@one_line_errors
def rules_list(rule_files: tuple[Path, ...], verifiers: bool) -> None:
    """Every rule by category: id, provider, lifetime hint (with --verifiers: every verifier)."""
    from detectors.loader import load_rules
    from detectors.rule import CATEGORIES, by_category

    if verifiers:
        from scanner.verify import VERIFIERS

        for e in sorted(VERIFIERS.values(), key=lambda e: e.provider):
            click.echo(f"{e.provider}\t{e.base or '(--verify-endpoint ' + e.endpoint + '=URL)'}\t"
                       f"{e.calls}\t{','.join(e.rules)}\t{e.docs}")
        return
    loaded = load_rules(list(rule_files))
    groups = by_category(loaded)
    for category, group in groups.items():
        click.echo(f"# {CATEGORIES[category]} ({category}): {len(group)}")
        for rule in group:
            click.echo("\t".join(map(clean, (rule.id, rule.provider, rule.lifetime_hint))))
    click.echo(f"# {len(loaded)} rules in {len(groups)} categories")


@rules.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@one_line_errors
def rules_check(files: tuple[Path, ...]) -> None:
    """Run every example and negative example of FILES (default: the built-in rules).
    FILES may be in our format or a gitleaks config; a malformed file exits 2 naming its bad rules,
    failing examples exit 1 with one FAIL line each."""
    from detectors.check import check_rule_files

    report = check_rule_files(list(files))
    for f in report.failures:
        click.echo(clean(f"FAIL {f.rule_id}:{f.label}: {f.problem}"))
    if report.without_examples:
        click.echo(f"no examples to check (imported): {', '.join(report.without_examples)}")
    if report.skipped:
        click.echo(f"warning: {len(report.skipped)} path-only gitleaks rule(s) skipped (they match a "
                   f"file name, not content): {', '.join(report.skipped)}", err=True)
    click.echo(f"{report.rules} rule(s), {len(report.failures)} failure(s)")
    if report.failures:
        click.echo("failing rules: " + ", ".join(sorted({f.rule_id for f in report.failures})), err=True)
    sys.exit(EXIT_FINDINGS if report.failures else EXIT_CLEAN)


@main.command()
@click.argument("fingerprint")
@click.argument("sources", nargs=-1)
@click.option("--yes", is_flag=True, help="Really revoke: the provider invalidates the credential.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Datastore to record the `revoked` event in (and, without SOURCES, whose "
                   "recorded sources are rescanned for the value).")
@click.option("--verify-endpoint", "verify_endpoints", multiple=True, metavar="PROVIDER=URL",
              help="Replace the provider's documented API base.")
@click.option("--github-url", default=None, help="GitHub API base (GitHub Enterprise).")
@click.option("--gitlab-url", default=None, help="GitLab instance.")
@one_line_errors
def revoke(fingerprint: str, sources: tuple[str, ...], yes: bool, db: Path | None,
           verify_endpoints: tuple[str, ...], github_url: str | None, gitlab_url: str | None) -> None:
    """Revoke the credential FINGERPRINT (or a unique prefix) at its provider, for providers that
    document self-revocation (GitHub, Slack, GitLab). The value is taken from a rescan of SOURCES
    (default: the datastore's recorded sources), never from storage."""
    from scanner.pipeline import plaintext_of
    from scanner.verify import ENDPOINT_KEYS, parse_endpoints
    from scanner.verify.revoke import BY_RULE as REVOKERS
    from scanner.verify.revoke import revoke as do_revoke

    if not yes:
        raise ConfigError("revoke cannot be undone: add --yes to revoke the credential at its provider")
    fp = fingerprint.strip().lower()
    if len(fp) < 8 or any(ch not in "0123456789abcdef" for ch in fp):
        raise ConfigError(f"{fingerprint!r}: give at least 8 hex digits of the fingerprint")
    endpoints = parse_endpoints(verify_endpoints, set(ENDPOINT_KEYS))
    store_path = db_path(db, default=not sources)
    if not sources:
        with open_existing(store_path) as store:
            sources = tuple(store.latest_complete_sources())
    extra = {k: v for k, v in (("github_url", github_url), ("gitlab_url", gitlab_url)) if v}
    options = replace(scan_options(Flags()), extra=extra)
    found = plaintext_of(sources, options, fp)
    if found is None:
        raise ConfigError(f"{fp}: not found in {', '.join(sources) or 'no sources'} (revoke needs a copy "
                          "of the value to send)")
    rule_id, secret, _ = found
    if rule_id not in REVOKERS:
        raise ConfigError(f"{rule_id}: its provider documents no self-revocation call (revoke it in "
                          "the provider's console)")
    from scanner.model import fingerprint as fingerprint_of

    full = fingerprint_of(secret)
    result = do_revoke(rule_id, secret, endpoints, extra)
    del secret
    click.echo(f"{'revoked' if result.revoked else 'NOT revoked'}: {full[:16]} ({rule_id}): {result.detail}")
    if result.revoked and store_path is not None:
        from scanner.store import Store

        with Store(store_path) as store:
            store.add_event("revoked", fingerprint=full, subject=result.provider,
                            detail={"rule_id": rule_id, "detail": result.detail})
    sys.exit(EXIT_CLEAN if result.revoked else EXIT_FINDINGS)


def _warn_unreadable(errors: list[str]) -> None:
    for err in errors:
        click.echo(f"sprawlscan: warning: workflow or config not read: {clean(err)}", err=True)


_SOURCE_FLAGS = (("--github-url", "github_url", "GitHub API base for github: sources."),
                 ("--gitlab-url", "gitlab_url", "GitLab instance for gitlab: sources."),
                 ("--cache-dir", "cache_dir", "Where forge repositories are cloned and reused."),
                 ("--jql", "jql", "JQL selecting the issues of a jira: source."),
                 ("--spaces", "confluence_spaces", "Comma-separated space keys of a confluence: source."),
                 ("--vault-path", "vault_path", "Mount or mount/path a vault: source starts from."))


def _graph_options(fn: F) -> F:
    """SOURCES (none: the datastore's latest complete state), --inventory, --db and the source
    flags `scan` takes (sprawlscan.toml applies too)."""
    for flag, dest, help_ in _SOURCE_FLAGS:
        fn = click.option(flag, dest, default=None, help=help_)(fn)
    for opt in reversed(_SCAN_OPTIONS):
        fn = opt(fn)
    fn = verify_flags(fn)
    fn = click.option("--inventory", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="agents.yaml or Backstage catalog-info.yaml (default: infer agents).")(fn)
    fn = click.option("--db", type=DB, default=None,
                      help="Datastore: without SOURCES, read its latest complete state instead of "
                           "scanning (default: $SPRAWLSCAN_DB, else .sprawlscan/sprawlscan.db); "
                           "with SOURCES, record the scan there.")(fn)
    return click.argument("sources", nargs=-1)(fn)




def _graph_scan(sources: tuple[str, ...], inventory: Path | None, flags: dict[str, Any]) -> Any:
    from scanner.pipeline import run_graph

    verify = verify_options(flags)
    db = flags.pop("db", None)
    scan_flags_ = Flags(flags.pop("max_file_size", None), flags.pop("no_history", False),
                        flags.pop("rule_files", ()), None, flags.pop("exclude", ()),
                        flags.pop("no_default_excludes", False))
    workers, scheduler = flags.pop("workers", None), flags.pop("scheduler", None)
    options = replace(scan_options(scan_flags_, targets=sources), extra={k: v for k, v in flags.items() if v},
                      verify=verify, workers=workers, scheduler=scheduler)
    sg, result = run_graph(sources, inventory, options, progress=progress,
                           db=db if not sources else db_path(db, default=False),
                           from_store=not sources)
    _warn_unreadable(sg.errors)
    return sg, result


@main.command()
@click.argument("agent")
@_graph_options
@click.option("--at", "at", default=None, help="Evaluate at this date/time (a date is 00:00 UTC).")
@click.option("--grace", default="24h", show_default=True, help="Grace period for short-lived credentials.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]), default="table")
@click.option("--strict", is_flag=True, help="Also fail on platform and expiring survivors.")
@click.option("--max-short-lived", "max_short", default="7d", show_default=True,
              help="Longest a short-lived credential of a kind with no documented maximum lives.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@one_line_errors
def survivors(agent: str, sources: tuple[str, ...], inventory: Path | None, at: str | None, grace: str,
              fmt: str, strict: bool, max_short: str, output: Path | None, **flags: Any) -> None:
    """What outlives AGENT: exit 1 when a shared, human, orphaned or unresolved item remains."""
    from scanner.graph.report import SURVIVAL_FORMATS
    from scanner.graph.survival import parse_at, parse_grace
    from scanner.graph.survival import survivors as run_survivors

    html_needs_a_file(fmt, output)
    when, window, longest = parse_at(at), parse_grace(grace), parse_grace(max_short, "--max-short-lived")
    sg, result = _graph_scan(sources, inventory, flags)
    report = run_survivors(sg, agent, when, window, strict, longest)
    if result.incomplete:  # the report says so: a partial crawl never reads as clear
        report = replace(report, incomplete=tuple(result.stats.errors) or ("the scan is incomplete",))
    emit(SURVIVAL_FORMATS[fmt](report), output)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {clean(err)}", err=True)
    sys.exit(EXIT_FINDINGS if report.blocked_by_evidence else EXIT_INCOMPLETE if result.incomplete else EXIT_CLEAN)


@main.command()
@click.argument("agent")
@_graph_options
@click.option("--grace", default="24h", show_default=True, help="Grace period for short-lived credentials.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@one_line_errors
def retired(agent: str, sources: tuple[str, ...], inventory: Path | None, grace: str, fmt: str,
            output: Path | None, **flags: Any) -> None:
    """After AGENT was deleted: re-verify every credential it reached. Exit 1 when one expected
    to die still works, or a survivor works with no reason to outlive it; 3 when some could not
    be verified. With --db, records the `agent-retired` event."""
    import json as json_

    from scanner.graph.retirement import check_retirement, render_text
    from scanner.graph.survival import parse_grace
    from scanner.graph.survival import survivors as run_survivors

    if not flags.get("verify"):
        raise ConfigError("retired confirms a retirement with the providers: add --verify")
    window = parse_grace(grace)
    db = flags.get("db")
    flags["verify_ttl"] = "0"  # a retirement is confirmed by fresh answers, never recorded ones
    sg, result = _graph_scan(sources, inventory, flags)
    report = run_survivors(sg, agent, None, window, False)
    check = check_retirement(report, dict(sg.verifications))
    detail = check.to_json()
    if result.incomplete:  # a scan that missed sources cannot confirm a retirement
        detail["passed"] = False
        detail["scan_errors"] = [clean(e) for e in result.stats.errors]
    emit(json_.dumps(detail, indent=2) + "\n" if fmt == "json" else render_text(check), output)
    store_path = db_path(db, default=not sources)
    if store_path is not None and (isinstance(store_path, str) or store_path.is_file()):
        from scanner.store import Store

        with Store(store_path) as store:
            store.add_event("agent-retired", subject=agent, detail=detail)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {err}", err=True)
    incomplete = bool(check.unverified) or result.incomplete
    sys.exit(EXIT_FINDINGS if check.failed else EXIT_INCOMPLETE if incomplete else EXIT_CLEAN)


@main.command()
@_graph_options
@click.option("--at", "at", default=None, help="Evaluate at this date (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]), default="table")
@click.option("--fail-on", type=click.Choice(["low", "medium", "high", "critical"]), default="high",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@one_line_errors
def audit(sources: tuple[str, ...], inventory: Path | None, at: str | None, fmt: str, fail_on: str,
          output: Path | None, **flags: Any) -> None:
    """Lifecycle findings for every agent; exit 1 when any is at or above --fail-on."""
    from scanner.graph.audit import AUDIT_FORMATS, SEVERITIES, run_audit
    from scanner.graph.survival import parse_at

    html_needs_a_file(fmt, output)
    sg, result = _graph_scan(sources, inventory, flags)
    findings = run_audit(sg, parse_at(at))
    if fmt == "html":
        from scanner.reports.html import audit_page

        emit(audit_page([f.to_json() for f in findings], sg.graph), output)
    else:
        emit(AUDIT_FORMATS[fmt](findings), output)
    for err in result.stats.errors:
        click.echo(f"sprawlscan: incomplete: {clean(err)}", err=True)
    worst = max((SEVERITIES.index(f.severity) for f in findings), default=-1)
    failed = worst >= SEVERITIES.index(fail_on)
    sys.exit(EXIT_FINDINGS if failed else EXIT_INCOMPLETE if result.incomplete else EXIT_CLEAN)


@main.command()
@_graph_options
@click.option("--format", "fmt", type=click.Choice(["graphml", "json", "dot", "html"]), required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@one_line_errors
def graph(sources: tuple[str, ...], inventory: Path | None, fmt: str, output: Path, **flags: Any) -> None:
    """Write the identity graph (GraphML, node-link JSON or DOT for other tools; HTML to look at)."""
    from scanner.graph.report import GRAPH_FORMATS

    sg, _ = _graph_scan(sources, inventory, flags)
    replace_file(output, lambda tmp: GRAPH_FORMATS[fmt](sg.graph, tmp))
    sys.exit(EXIT_CLEAN)
