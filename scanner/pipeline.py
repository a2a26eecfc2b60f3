"""The only place where stages meet: targets → sources → chunks → engine → findings → result.

`resolve_sources` turns what the user typed into `Source` objects (`SOURCES` maps a URI scheme to
its factory; a plain path is a git repository or a directory). `run_scan` drives every source
through one engine and one `Findings` and returns a `ScanResult`. With a blob cache (the datastore's,
see `scan_and_record`) git blobs scanned before with the same rules are not read again: their
findings are carried over. In the CI modes (`staged`, `rev_range`) a git target is scanned for what
the change introduces only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from detectors.allowlist import located, needs_paths
from detectors.loader import load_rules, skipped_path_only
from detectors.rule import Rule
from scanner import __version__, early
from scanner.engine import Engine
from scanner.errors import ConfigError, SourceError, SprawlscanError, where
from scanner.findings import Findings
from scanner.fingerprints import key_tag, keyed_by
from scanner.model import InventoryFact, KnownMatch, Match, ScanResult, ScanStats, fingerprint
from scanner.parallel import default_workers
from scanner.sources.base import (
    DEFAULT_MAX_FILE_SIZE,
    BlobCache,
    BlobPaths,
    RepoSlice,
    Source,
    SourceOptions,
    Stored,
    Unit,
    scan_chunks,
)
from scanner.sources.files import FilesSource
from scanner.sources.git_history import GitHistorySource, is_git_repo
from scanner.verify.base import VerifyOptions

if TYPE_CHECKING:
    from scanner.graph.build import SprawlGraph
    from scanner.notify import Channel
    from scanner.store import DbLocation, Store
    from scanner.units import Submit, Task, UnitResult

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
    staged: bool = False
    """CI mode: scan a git target's index (what the next commit adds), not its history."""
    rev_range: str | None = None
    """CI mode: scan only what the commits of `BASE..HEAD` introduce to a git target."""
    config_source: str = ""
    """Which configuration the scan was run with (a file, `BASE:sprawlscan.toml` in CI modes)."""
    blob_cache: BlobCache | None = None
    """Incremental rescans: git blobs already scanned with the same rules (set by the datastore)."""
    verify: VerifyOptions | None = None
    """`--verify`: ask each credential's provider about it (None: nothing is sent anywhere)."""
    workers: int | None = None
    """`--workers`: local processes (None: `$SPRAWLSCAN_WORKERS`, else one per core)."""
    scheduler: str | None = None
    """`--scheduler tcp://HOST:PORT`: run the units on this Dask cluster instead."""

    def source_options(self) -> SourceOptions:
        return SourceOptions(self.max_file_size, self.history, self.exclude, self.blob_cache,
                             self.workers)

    @property
    def mode(self) -> str:
        """`full`, `staged` or `diff`: only full scans can tell that a credential is gone."""
        return "staged" if self.staged else "diff" if self.rev_range else "full"


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
    if options.staged or options.rev_range:
        return _git_source(target, options)
    if options.history and path.is_dir() and is_git_repo(path):
        return GitHistorySource(path, options.source_options(), records=True)
    return FilesSource(path, options.source_options())


def _git_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.git_changes import RangeSource, StagedSource

    if options.staged:
        return StagedSource(target, options.source_options())
    if options.rev_range:
        return RangeSource(target, options.rev_range, options.source_options())
    return GitHistorySource(target, options.source_options(), records=True)


def _dir_source(target: str, options: ScanOptions) -> Source:
    return FilesSource(target, options.source_options())


def _jira_source(target: str, options: ScanOptions) -> Source:
    from scanner.sources.jira_tickets import JiraSource

    cloud = options.extra.get("jira_cloud")
    media = options.extra.get("jira_media_hosts")  # where Cloud serves attachment downloads
    return JiraSource(target, options.extra.get("jql"), max_file_size=options.max_file_size,
                      cloud=None if cloud is None else cloud not in ("", "0", "false"),
                      **({"media_hosts": tuple(media.split(","))} if media else {}))


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
            _refuse_mistyped_scheme(target)
            sources.append(SOURCES["path"](target, options))
    return sources


def _refuse_mistyped_scheme(target: str) -> None:
    """`githb:acme` is not a path: when no such path exists and the part before the colon is close
    to a known scheme, say which one was meant."""
    import difflib

    scheme, sep, _ = target.partition(":")
    if not sep or len(scheme) < 2 or not scheme.replace("-", "").isalpha() or Path(target).exists():
        return
    close = difflib.get_close_matches(scheme.lower(), [s for s in SOURCES if s != "path"], n=1, cutoff=0.6)
    known = ", ".join(f"{s}:" for s in sorted(SOURCES) if s != "path")
    hint = f"did you mean {close[0]}:?" if close else f"known schemes: {known}"
    raise ConfigError(f"{target}: unknown source scheme {scheme}: ({hint})")


def load_engine(options: ScanOptions, rules: list[Rule] | None = None) -> Engine:
    return Engine(rules if rules is not None else load_rules(list(options.rule_files)))


def rules_digest(rules: Iterable[Rule]) -> str:
    """SHA-256 over the rules' data (and the tool version, whose engine reads them): the key under
    which scanned blobs are cached. Any change to any rule invalidates the whole cache."""
    data = [{k: v for k, v in asdict(r).items() if k != "source_file"}
            for r in sorted(rules, key=lambda r: r.id)]
    blob = json.dumps({"version": __version__, "rules": data}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def run_scan(targets: Iterable[str], options: ScanOptions | None = None, *,
             engine: Engine | None = None, progress: Progress | None = None,
             after_unit: Callable[[], None] | None = None) -> ScanResult:
    """Scan every target; sources that fail part-way leave the result marked incomplete.
    `after_unit` is called as each unit's result is merged (the datastore saves its blobs)."""
    options = options or ScanOptions()
    secrets: dict[str, tuple[str, dict[str, str]]] | None = None
    if options.verify is not None:  # verifying needs every plaintext: no blob is carried over
        secrets = {}
        if options.blob_cache is not None:
            options = replace(options, blob_cache=RecordOnly(options.blob_cache))
    targets = list(targets)
    sources = resolve_sources(targets, options)
    early.release(keep={s.repo for s in sources if isinstance(s, GitHistorySource)
                        and options.blob_cache is None})
    engine = engine or load_engine(options)
    findings = Findings(options.allowlist)
    stats = ScanStats(config=options.config_source)
    by_path = {c.rule.id: c.rule for c in engine.rules if needs_paths(c.rule)}
    skipped = skipped_path_only(list(options.rule_files))
    if skipped:
        stats.skip("path-only-rule", len(skipped))
    from scanner.units import release_memory

    found_facts: list[InventoryFact] = []
    for _, result in scan_units(zip(targets, sources), options, engine, progress):
        stats.merge(result.stats)
        found_facts.extend(result.facts)
        for match, locations in result.hits:
            if match.rule_id in by_path:  # imported gitleaks rules: `path`, path / commit lists
                locations = located(by_path[match.rule_id], locations,
                                    match.allow_pending if isinstance(match, Match) else None)
                if not locations:
                    continue
            findings.add(match, locations)
            if secrets is not None and isinstance(match, Match):
                secrets.setdefault(fingerprint(match.secret), (match.secret, dict(match.captures)))
        if after_unit is not None:
            after_unit()
        del result
        release_memory()
    early.release()
    credentials = findings.credentials()
    if findings.allowlisted:
        stats.skip("allowlisted", findings.allowlisted)
    if findings.ambiguous:        # a prefix that matched two credentials hid neither
        stats.skip("ambiguous-allowlist-prefix", len(findings.ambiguous))
    facts = graph_records(found_facts, engine)
    verified = None
    if options.verify is not None and secrets is not None:
        from scanner.verify import verify_all

        if progress:
            progress(f"verifying {len(credentials)} credential(s)")
        verified = verify_all(credentials, secrets, options.verify, options.extra)
        if options.verify.admin:  # admin listings name keys by hint: joined in memory
            from scanner.verify.admin import admin_facts

            by_fp = {c.fingerprint: (c.provider, secrets[c.fingerprint][0]) for c in credentials
                     if c.fingerprint in secrets}
            listed, errors = admin_facts(by_fp, options.verify, options.verify.admin, verified)
            stats.errors.extend(errors)
            for fp, listing in listed.items():  # the listing's facts over the key's own
                merged = dict(verified[fp].listing) | dict(listing)
                verified[fp] = replace(verified[fp], listing=tuple(merged.items()))
        secrets.clear()
    return ScanResult(credentials, stats, facts, allowlisted=frozenset(findings.allowlisted_fps),
                      rules=tuple(r.rule for r in engine.rules), verifications=verified)


def scan_units(sources: Iterable[tuple[str, Source]], options: ScanOptions, engine: Engine,
               progress: Progress | None = None) -> Iterator[tuple[Task, UnitResult]]:
    """Every unit of every source, scanned by `scanner.units` tasks (here, on a local process
    pool or on the Dask cluster of `options.scheduler`), each result in unit order with what the
    task read already handed to the blob cache."""
    from scanner.units import executor, list_units

    with ExitStack() as stack:
        workers = options.workers or default_workers()
        rules = tuple(c.rule for c in engine.rules)
        key = ""  # the engine's name in other processes: only tasks run there need it
        # a cluster is reached before anything is listed (a bad address fails at once)
        if options.scheduler:
            key = rules_digest(rules)
            ran = stack.enter_context(executor(workers, options.scheduler, (key, engine)))
        else:
            ran = None
        listed: list[tuple[Unit, str, ScanStats | None]] = []
        for target, source in sources:
            before = ScanStats()
            for i, unit in enumerate(list_units(source, target, before, bool(options.scheduler))):
                listed.append((unit, source.name, before if i == 0 else None))
        if ran is None and workers > 1 and len(listed) > 1:
            key = rules_digest(rules)
            ran = stack.enter_context(executor(workers, None, (key, engine)))
        yield from _scan_units(listed, ran, key, options, engine, progress)


def _scan_units(listed: list[tuple[Unit, str, ScanStats | None]], ran: tuple[Submit, int] | None,
                key: str, options: ScanOptions, engine: Engine, progress: Progress | None) -> Iterator[tuple[Task, UnitResult]]:
    from scanner.units import Task, dispatch, run_unit

    cache = options.blob_cache
    pooled = ran is not None
    base = replace(options, blob_cache=None, verify=None, scheduler=None)
    here = replace(base, workers=options.workers)
    away = replace(base, workers=1)  # one task among many: no engine pool inside it
    sliceable = cache is not None and hasattr(unwrap(cache), "slice")
    heads: dict[int, tuple[str, ScanStats]] = {}
    """First task of each source → the source's name and what listing its units recorded."""
    announced: set[int] = set()

    def tasks() -> Iterator[tuple[Task, bool]]:
        listed.reverse()
        while listed:  # a unit dispatched is let go (its API JSON is not kept to the end)
            unit, name, before = listed.pop()
            local = not pooled or (cache is not None and (unit.repos is None or not sliceable))
            slices = None if cache is None or local else {
                repo: slice_of(cache, repo) for repo in unit.repos or ()}
            task = Task(unit, name, here if local else away, key, engine.backend, slices)
            if before is not None:
                heads[id(task)] = (name, before)
            yield task, local

    def announce(task: Task) -> None:
        if id(task) in heads and id(task) not in announced:
            announced.add(id(task))
            if progress:
                progress(f"scanning {heads[id(task)][0]}")

    def local(task: Task) -> UnitResult:
        announce(task)
        try:
            return run_unit(task, engine, cache, progress)
        except SprawlscanError:
            raise
        except Exception as exc:
            where(exc, f"crawling source {task.source_name}")
            raise

    submit, slots = ran if ran is not None else (None, 1)
    for task, result in dispatch(tasks(), local, submit, slots):
        announce(task)
        announced.discard(id(task))
        for line in result.said:
            if progress:
                progress(line)
        head = heads.pop(id(task), None)
        if head is not None:  # the listing's skips and errors come first
            head[1].merge(result.stats)
            result.stats = head[1]
        if cache is not None and (result.recorded or result.attributions or result.etags):
            absorb(cache, result)
        yield task, result


def unwrap(cache: BlobCache) -> BlobCache:
    return cache.cache if isinstance(cache, RecordOnly) else cache


def slice_of(cache: BlobCache, repo: str) -> RepoSlice:
    """`repo`'s part of the blob cache for a task (`--verify` carries nothing over)."""
    part: RepoSlice = unwrap(cache).slice(repo)  # type: ignore[attr-defined]
    return RepoSlice({}, part.attribution) if isinstance(cache, RecordOnly) else part  # no ETags either


def absorb(cache: BlobCache, result: UnitResult) -> None:
    unwrap(cache).absorb(result.recorded, result.attributions)  # type: ignore[attr-defined]
    for row in result.etags:
        unwrap(cache).save_etag(*row)  # type: ignore[attr-defined]


def graph_records(records: Iterable[InventoryFact], engine: Engine | None = None) -> tuple[InventoryFact, ...]:
    """The sources' records made complete for the graph: every file a workflow pins to a ref in a
    scanned git repository read (until no call asks for more), then, with an engine, every value
    a rule finds in record text redacted (the files were scanned as files: their skips are
    counted there, not again)."""
    out = list(dict.fromkeys(records))
    # only YAML can pin another file (`pins_wanted` reads nothing else): without any, the graph
    # modules are not loaded (a scan of code files starts faster)
    if any(r.kind != "file" or r.name.endswith((".yml", ".yaml")) for r in out):
        from scanner.graph.collect import pins_wanted
        from scanner.sources.records import pinned_records

        asked: set[tuple[str, str, str]] = set()
        while wanted := pins_wanted(out) - asked:
            asked |= wanted
            out += pinned_records(out, wanted)
    if engine is None:
        return tuple(out)
    from scanner.sources.records import redact

    return redact(out, engine)


def records_of(targets: Iterable[str]) -> tuple[InventoryFact, ...]:
    """The graph's records of local targets (paths, `git:` / `dir:` targets) without scanning
    them for secrets: what their sources would give (not redacted: no engine)."""
    from scanner.sources.records import target_records

    out: list[InventoryFact] = []
    for target in targets:
        scheme, sep, rest = target.partition(":")
        out += target_records(Path(rest if sep and scheme in ("git", "dir") else target))
    return graph_records(out)


class RecordOnly:
    """A blob cache that remembers what this scan reads but carries nothing over: `--verify`
    needs every plaintext, and a carried blob has none."""

    def __init__(self, cache: BlobCache) -> None:
        self.cache = cache

    def warm(self, repo: str) -> bool:
        return False

    def known(self, repo: str, blob: str) -> bool:
        return False

    def record(self, repo: str, blob: str, matches: Sequence[Match]) -> None:
        self.cache.record(repo, blob, matches)

    def matches(self, repo: str, blob: str) -> Sequence[KnownMatch]:
        return ()

    def attribution(self, repo: str, refs_state: str) -> tuple[BlobPaths, int] | None:
        return self.cache.attribution(repo, refs_state)

    def save_attribution(self, repo: str, refs_state: str, first: BlobPaths, missing: int) -> None:
        self.cache.save_attribution(repo, refs_state, first, missing)

    def etag(self, repo: str, url: str) -> None:
        return None  # a 304 carries findings without plaintext: crawl

    def save_etag(self, repo: str, url: str, kind: str, stored: Stored) -> None:
        save = getattr(self.cache, "save_etag", None)
        if save is not None:
            save(repo, url, kind, stored)


def scan_and_record(targets: Iterable[str], options: ScanOptions, store: Store, *,
                    progress: Progress | None = None) -> tuple[int, ScanResult]:
    """Run a scan recorded in the datastore (incremental for full history scans); gives the scan
    id and the result. The scan row exists from the start, so an interrupted scan shows up as
    unfinished rather than vanishing."""
    targets = list(targets)
    rules = load_rules(list(options.rule_files))
    digest = rules_digest(rules)
    scan_id = store.begin_scan(targets, options.mode, digest)
    db_key = store.fingerprint_key()
    # matches the blob cache carries over hold fingerprints: they are valid under this key only
    # stored ETags carry findings over: valid under this key, these rules, allowlist and size limit
    etag_scope = hashlib.sha256(json.dumps([digest, key_tag(db_key), sorted(options.allowlist),
                                            options.max_file_size]).encode()).hexdigest()
    cache = store.blob_cache(f"{digest}+{key_tag(db_key)}", etag_scope) if options.mode == "full" else None
    if options.verify is not None:  # answers recorded within the TTL are not asked again
        options = replace(options, verify=replace(options.verify,
                                                  known=store.recent_verifications(options.verify.ttl)))
    with keyed_by(db_key):  # guessable values: HMAC under this datastore's key
        result = run_scan(targets, replace(options, blob_cache=cache), engine=load_engine(options, rules),
                          progress=progress, after_unit=None if cache is None
                          else lambda: store.save_blobs(scan_id, cache))
    store.finish_scan(scan_id, result, cache)
    if result.verifications:
        store.record_verifications(scan_id, result.verifications)
    return scan_id, result


def record_or_scan(targets: Iterable[str], options: ScanOptions, db: DbLocation | None, *,
                   progress: Progress | None = None, notify: Sequence[Channel] = (),
                   inventory: Path | None = None) -> ScanResult:
    """A scan, recorded in the datastore at `db` when one is given; then, when the scan is
    complete, new or reappeared credentials are announced on the `notify` channels (a failed
    delivery makes the result incomplete), with their owners when an `inventory` is given (the
    graph of this scan's records and that inventory says which agents use each one)."""
    if db is None:
        if notify:
            raise ConfigError("notifications need a datastore (--db) to know what is new")
        if inventory is not None:
            raise ConfigError("scan --inventory names owners in notifications: add --db and a --notify-* option")
        return run_scan(targets, options, progress=progress)
    if inventory is not None and not notify:
        raise ConfigError("scan --inventory names owners in notifications: add a --notify-* option")
    from scanner.graph.inventory import load_inventory
    from scanner.store import Store

    inv = load_inventory(inventory) if inventory is not None else None  # a bad file fails first
    with Store(db) as store:
        scan_id, result = scan_and_record(targets, options, store, progress=progress)
        if notify and not result.incomplete:
            from scanner.notify import notify as send

            owners = None
            if inv is not None:
                from scanner.graph.build import build_graph
                from scanner.graph.owners import credential_owners

                owners = credential_owners(build_graph(result, inv))
            result.stats.errors.extend(send(store, scan_id, result, notify, owners))
        return result


def stored_state(db: DbLocation | None) -> tuple[list[str], ScanResult]:
    """The latest complete state in the datastore (`--db`, `$SPRAWLSCAN_DB` or the default file)
    and the targets it was scanned from: what the graph commands use when given no sources."""
    from scanner.store import open_existing

    with open_existing(db) as store:
        _refuse_unsettled(store)
        return store.latest_complete_sources(), store.latest_complete_result()


def _refuse_unsettled(store: Store) -> None:
    """A scan whose latest run did not complete leaves its targets' state unknown: the graph
    commands do not answer from an older complete scan (stale) or from the partial one."""
    for info in store.unsettled_scans()[:1]:
        why = "; ".join(info.reasons) or "it did not finish: still running, or stopped"
        raise SourceError(f"scan {info.id} of {', '.join(info.sources)} in the datastore is incomplete ({why}): "
                          "the state of those sources is not known; scan them again with --db")


def stored_records_state(db: DbLocation | None) -> ScanResult:
    """The latest complete state with the records the graph is built from; a state whose scans
    hold no records (written by a sprawlscan before them) is refused: the graph would be
    evaluated without workflows and configs, and a gate must not pass on that."""
    from scanner.store import open_existing

    with open_existing(db) as store:
        _refuse_unsettled(store)
        result = store.latest_complete_result()
        old = store.without_records(*store.latest_complete_scans())
    if old:
        raise SourceError(f"scan(s) {', '.join(map(str, old))} in the datastore hold no workflow or config "
                          "records (recorded by an older sprawlscan): the graph cannot be built from them; "
                          "scan those sources again with --db")
    return result


def run_graph(targets: Iterable[str], inventory: Path | None, options: ScanOptions | None = None, *,
              progress: Progress | None = None, db: DbLocation | None = None,
              from_store: bool = False) -> tuple[SprawlGraph, ScanResult]:
    """Scan the targets (recorded in the datastore `db` when given, with the graph), read their
    workflows and configs, load the inventory, build the graph. `from_store`: no scan; the credentials are the
    datastore's latest complete state (`db`, else `$SPRAWLSCAN_DB`, else the default file) with
    the records those scans stored (workflow and config files, forge secret names)."""
    from scanner.graph.build import build_graph
    from scanner.graph.inventory import load_inventory

    targets = list(targets)
    inv = load_inventory(inventory) if inventory else None
    if from_store and options is not None and options.verify is not None:
        # verifying needs the plaintexts, which the datastore never holds: rescan what it recorded
        from scanner.store import db_path

        targets, _ = stored_state(db)
        db, from_store = db_path(db, default=True), False
    if from_store:
        result = stored_records_state(db)
        return build_graph(result, inv), result
    if db is None:
        result = run_scan(targets, options, progress=progress)
        return build_graph(result, inv), result
    from scanner.store import Store

    with Store(db) as store:  # recorded: the scan, and the graph built from it
        scan_id, result = scan_and_record(targets, options or ScanOptions(), store,
                                          progress=progress)
        sg = build_graph(result, inv)
        try:
            store.save_graph(sg.graph, scan_id)
        except ConfigError as exc:
            sg.errors.append(f"graph not saved in the datastore: {exc}")
    return sg, result


def plaintext_of(targets: Iterable[str], options: ScanOptions,
                 prefix: str) -> tuple[str, str, dict[str, str]] | None:
    """Rescan the targets for the credential whose fingerprint starts with `prefix` and give its
    (rule id, plaintext, captures), or None. For `revoke`: the datastore never holds a value. Two
    different credentials under one prefix are a `ConfigError`."""
    options = replace(options, blob_cache=None, verify=None)
    engine = load_engine(options)
    found: dict[str, tuple[str, str, dict[str, str]]] = {}
    stats = ScanStats()
    for source in resolve_sources(targets, options):
        fast = getattr(source, "scan", None)
        hits = fast(engine, stats) if fast is not None else scan_chunks(source.chunks(stats), engine, stats)
        for match, _ in hits:
            if isinstance(match, Match):
                fp = fingerprint(match.secret)
                if fp.startswith(prefix):
                    found.setdefault(fp, (match.rule_id, match.secret, dict(match.captures)))
    if len(found) > 1:
        raise ConfigError(f"{prefix}: matches {len(found)} credentials; give more of the fingerprint")
    return next(iter(found.values()), None)
