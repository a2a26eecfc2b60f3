"""The only place where stages meet: targets → sources → chunks → engine → findings → result.

`resolve_sources` turns what the user typed into `Source` objects (`SOURCES` maps a URI scheme to
its factory; a plain path is a git repository or a directory). `run_scan` drives every source
through one engine and one `Findings` and returns a `ScanResult`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from detectors.loader import load_rules
from detectors.rule import Rule
from scanner.engine import Engine
from scanner.errors import ConfigError
from scanner.findings import Findings
from scanner.model import ScanResult, ScanStats
from scanner.sources.base import (
    DEFAULT_MAX_FILE_SIZE,
    Source,
    SourceOptions,
    scan_chunks,
)
from scanner.sources.files import FilesSource
from scanner.sources.git_history import GitHistorySource, is_git_repo

if TYPE_CHECKING:
    from scanner.graph.build import SprawlGraph

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """Everything a scan needs beyond its targets."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    """Skip files and blobs larger than this."""
    history: bool = True
    """Scan git history (False: working tree files only)."""
    rule_files: tuple[Path, ...] = ()
    """Extra rule files (`--rules`)."""
    allowlist: frozenset[str] = frozenset()
    """SHA-256 fingerprints never reported."""
    exclude: tuple[str, ...] | None = None
    """Path globs to skip; None: the default list."""
    extra: dict[str, str] = field(default_factory=dict)
    """Source-specific settings (API base URLs and the like)."""

    def source_options(self) -> SourceOptions:
        return SourceOptions(self.max_file_size, self.history, self.exclude)


SourceFactory = Callable[[str, ScanOptions], Source]


def _github_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.github_org import GitHubOrgSource

    return GitHubOrgSource(target, options.source_options(), api_url=options.extra.get("github_url"),
                           cache_dir=options.extra.get("cache_dir"))


def _gitlab_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.gitlab_group import GitLabGroupSource

    return GitLabGroupSource(target, options.source_options(), url=options.extra.get("gitlab_url"),
                             cache_dir=options.extra.get("cache_dir"))


def _path_source(target: str, options: ScanOptions) -> Source:
    path = Path(target)
    if not path.exists():
        raise ConfigError(f"{target}: no such file or directory")
    if options.history and path.is_dir() and is_git_repo(path):
        return GitHistorySource(path, options.source_options())
    return FilesSource(path, options.source_options())


def _git_source(target: str, options: ScanOptions) -> Source:
    return GitHistorySource(target, options.source_options())


def _dir_source(target: str, options: ScanOptions) -> Source:
    return FilesSource(target, options.source_options())


def _jira_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.jira_tickets import JiraSource

    cloud = options.extra.get("jira_cloud")
    return JiraSource(target, options.extra.get("jql"), max_file_size=options.max_file_size,
                      cloud=None if cloud is None else cloud not in ("", "0", "false"))


def _jira_export_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.jira_tickets import JiraExportSource

    return JiraExportSource(target)


def _confluence_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.confluence_pages import ConfluenceSource

    spaces = options.extra.get("confluence_spaces", "")
    return ConfluenceSource(target, [s.strip() for s in spaces.split(",") if s.strip()])


def _confluence_export_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.confluence_pages import ConfluenceExportSource

    return ConfluenceExportSource(target)


def _vault_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.vault_live import VaultLiveSource

    return VaultLiveSource(target, options.extra.get("vault_path"))


def _vault_export_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.vault_export import VaultExportSource

    return VaultExportSource(target)


SOURCES: dict[str, SourceFactory] = {
    "git": _git_source,
    "dir": _dir_source,
    "path": _path_source,
    "github": _github_source,
    "gitlab": _gitlab_source,
    "jira": _jira_source,
    "jira-export": _jira_export_source,
    "confluence": _confluence_source,
    "confluence-export": _confluence_export_source,
    "vault": _vault_source,
    "vault-export": _vault_export_source,
}
"""URI scheme (`scheme:rest`) → factory; `path` handles targets without a known scheme."""


def resolve_sources(targets: Iterable[str], options: ScanOptions) -> list[Source]:
    sources = []
    for target in targets:
        scheme, sep, rest = target.partition(":")
        if sep and scheme in SOURCES and scheme != "path" and len(scheme) > 1:
            sources.append(SOURCES[scheme](rest, options))
        else:
            sources.append(SOURCES["path"](target, options))
    return sources


def load_engine(options: ScanOptions, rules: list[Rule] | None = None) -> Engine:
    return Engine(rules if rules is not None else load_rules(list(options.rule_files)))


def run_scan(targets: Iterable[str], options: ScanOptions | None = None, *,
             engine: Engine | None = None, progress: Progress | None = None) -> ScanResult:
    """Scan every target; sources that fail part-way leave the result marked incomplete."""
    options = options or ScanOptions()
    sources = resolve_sources(targets, options)
    engine = engine or load_engine(options)
    findings = Findings(options.allowlist)
    stats = ScanStats()
    for source in sources:
        if progress:
            progress(f"scanning {source.name}")
            if hasattr(source, "progress"):  # crawlers report units done / total
                source.progress = progress
        fast = getattr(source, "scan", None)
        hits = fast(engine, stats) if fast is not None else scan_chunks(source.chunks(stats), engine, stats)
        for match, locations in hits:
            findings.add(match, locations)
    if findings.allowlisted:
        stats.skip("allowlisted", findings.allowlisted)
    facts = tuple(f for source in sources for f in getattr(source, "inventory_facts", ()))
    return ScanResult(findings.credentials(), stats, facts)


def run_graph(targets: Iterable[str], inventory: Path | None, options: ScanOptions | None = None, *,
              progress: Progress | None = None) -> tuple[SprawlGraph, ScanResult]:
    """Scan the targets, read their workflows and configs, load the inventory, build the graph."""
    from scanner.graph.build import build_graph
    from scanner.graph.inventory import load_inventory

    targets = list(targets)
    inv = load_inventory(inventory) if inventory else None
    result = run_scan(targets, options, progress=progress)
    return build_graph(result, inv, targets), result
