"""Stage: dispatch. Takes the sources of a scan, splits each into units (`Source.units`: a
repository of an org, the org's own part, a GitLab group's variables or one of its projects, a
Confluence space, a vault mount, the plain files of a folder, or the whole source) and
gives one `UnitResult` per unit, in unit order, whatever ran it.

A task (`run_unit`) is the same code everywhere: resolve the source again from its target, scan
one unit with an engine, return the (match, locations) hits, the unit's stats, its
`inventory_facts`, the progress lines it said, and what it read for the blob cache. It runs in
this process (one unit, or `--workers 1`), on a local `ProcessPoolExecutor` (`--workers N`), or
on an existing Dask distributed cluster (`--scheduler tcp://HOST:PORT`: `Client.submit`; Dask
reruns a task whose worker died, and a task it gives up on makes the scan incomplete, naming
the unit). Tasks never open the datastore: the coordinator hands each one the blob-cache slices
of the repositories it names (`RepoSlice`) and records what comes back. A task running beside
others scans with one engine process (no nested pools); a unit run alone here keeps the history
scan's own engine pool. At most two tasks per slot are in flight, so the coordinator holds the
hits of a few units and the deduplicated credentials, never every blob or file."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detectors.rule import Rule
from scanner.engine import Engine
from scanner.errors import ConfigError, SprawlscanError
from scanner.model import InventoryFact, KnownMatch, Match, ScanStats
from scanner.sources.base import BlobCache, BlobPaths, Hit, RepoSlice, Stored, Unit, scan_chunks

if TYPE_CHECKING:
    from scanner.pipeline import ScanOptions

SCHEDULER_TIMEOUT = 10.0
"""Seconds to wait for a Dask scheduler to answer before the scan gives up (exit 2)."""
SCHEDULER_GRACE = 5.0
"""Seconds a closed scheduler connection may take to show in the client's status."""

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Task:
    """What a worker needs to scan one unit (picklable; no datastore, no plaintext)."""

    unit: Unit
    """The unit; its `target` is absolute when it is a path (workers have another cwd)."""
    source_name: str
    """The source's name as the coordinator knows it (a folder keeps the path as typed)."""
    options: ScanOptions
    """The scan's options, without blob cache or verification."""
    rules_key: str
    """The rules' digest: the key of the engine, built from the rules `seed_rules` left in the
    worker process (the rules themselves travel once per worker, never in a task)."""
    backend: str
    """The engine backend the coordinator uses."""
    cache: dict[str, RepoSlice] | None = None
    """Blob-cache slices of `unit.repos` (None: no blob cache in this scan)."""


@dataclass(slots=True)
class UnitResult:
    """What one task gives back."""

    hits: list[Hit]
    """(match, locations) in the order the unit found them."""
    stats: ScanStats
    """The unit's counters, skips and errors."""
    facts: tuple[InventoryFact, ...] = ()
    """The source's `inventory_facts` after the unit."""
    said: list[str] = field(default_factory=list)
    """Progress lines, replayed by the coordinator."""
    recorded: list[tuple[str, str, list[Match]]] = field(default_factory=list)
    """(repo, blob, matches) of every blob read, for the blob cache."""
    attributions: dict[str, tuple[str, BlobPaths, int]] = field(default_factory=dict)
    """Attribution passes computed, for the blob cache."""
    etags: list[tuple[str, str, str, Stored]] = field(default_factory=list)
    """(repo, url, kind, ETag and records) of every API answer read to its end, for the datastore."""


class UnitCache:
    """A `BlobCache` over the slices a task was given, remembering what the task reads."""

    def __init__(self, slices: dict[str, RepoSlice]) -> None:
        self.slices = slices
        self.recorded: list[tuple[str, str, list[Match]]] = []
        self.attributions: dict[str, tuple[str, BlobPaths, int]] = {}
        self.etags: list[tuple[str, str, str, Stored]] = []

    def etag(self, repo: str, url: str) -> Stored | None:
        s = self.slices.get(repo)
        return s.etags.get(url) if s is not None else None

    def save_etag(self, repo: str, url: str, kind: str, stored: Stored) -> None:
        self.etags.append((repo, url, kind, stored))

    def warm(self, repo: str) -> bool:
        s = self.slices.get(repo)
        return s is not None and bool(s.known)

    def known(self, repo: str, blob: str) -> bool:
        s = self.slices.get(repo)
        return s is not None and blob in s.known

    def record(self, repo: str, blob: str, matches: Sequence[Match]) -> None:
        # kept as matches: the coordinator fingerprints them (a guessable value's HMAC key is
        # the datastore's, which workers never see)
        self.recorded.append((repo, blob, list(matches)))

    def matches(self, repo: str, blob: str) -> Sequence[KnownMatch]:
        s = self.slices.get(repo)
        return s.known.get(blob, []) if s is not None else []

    def attribution(self, repo: str, refs_state: str) -> tuple[BlobPaths, int] | None:
        s = self.slices.get(repo)
        if s is None or s.attribution is None or s.attribution[0] != refs_state:
            return None
        return s.attribution[1], s.attribution[2]

    def save_attribution(self, repo: str, refs_state: str, first: BlobPaths, missing: int) -> None:
        self.attributions[repo] = (refs_state, first, missing)


_ENGINES: dict[str, Engine] = {}
"""This process's engines by rules digest (seeded before a local pool forks)."""
_RULES: dict[str, tuple[Rule, ...]] = {}
"""The rules sent to this process once (`seed_rules`), by digest, until an engine is built."""
_ENGINES_LOCK = threading.Lock()


def seed_rules(key: str, rules: tuple[Rule, ...]) -> None:
    """Leave the scan's rules in this (worker) process: a local pool's initializer, or the Dask
    worker plugin (`RulesPlugin`). Tasks name them by digest only: a task's arguments stay a few
    KiB, where ~200 KiB of pickled rules in every task made Dask's scheduler (and the client)
    keep ~200 KiB per task in their logs of recent messages (up to 1,000 per connection)."""
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _RULES[key] = rules


def engine_for(task: Task) -> Engine:
    with _ENGINES_LOCK:
        if task.rules_key not in _ENGINES:
            rules = _RULES.pop(task.rules_key, None)
            if rules is None:
                raise RuntimeError(f"rules {task.rules_key[:12]} were never sent to this worker")
            _ENGINES[task.rules_key] = Engine(list(rules), backend=task.backend)
        return _ENGINES[task.rules_key]


def run_unit(task: Task, engine: Engine | None = None, cache: BlobCache | None = None,
             progress: Progress | None = None) -> UnitResult:
    """Scan one unit. In this process (`engine`, the scan's own `cache` and `progress` given)
    it is exactly the serial scan; elsewhere it builds its engine and works on the slices."""
    from scanner.pipeline import resolve_sources  # the pipeline wires this stage in

    if task.unit.key == NOTHING:
        return UnitResult([], ScanStats())
    engine = engine or engine_for(task)
    sliced = UnitCache(task.cache) if cache is None and task.cache is not None else None
    options = replace(task.options, blob_cache=cache or sliced)
    source = resolve_sources([task.unit.target], options)[0]
    source.name = task.source_name
    said: list[str] = []
    if hasattr(source, "progress"):
        source.progress = progress or said.append
    if progress is not None and hasattr(source, "meter"):
        source.meter = getattr(progress, "meter", None)
    stats = ScanStats()
    by_unit = getattr(source, "scan_unit", None)
    if task.unit.key and by_unit is not None:
        hits = list(by_unit(task.unit, engine, stats))
    else:
        fast = getattr(source, "scan", None)
        hits = list(fast(engine, stats) if fast is not None
                    else scan_chunks(source.chunks(stats), engine, stats, options.blob_cache))
    facts = tuple(getattr(source, "inventory_facts", ()))
    if sliced is None:
        return UnitResult(hits, stats, facts, said)
    return UnitResult(hits, stats, facts, said, sliced.recorded, sliced.attributions, sliced.etags)


NOTHING = "nothing"
"""The key of the one empty unit of a source that listed none (its listing failed, or it holds
nothing): what the listing recorded in `stats` still reaches the scan's result."""


def list_units(source: Any, target: str, stats: ScanStats, remote: bool) -> list[Unit]:
    """The source's units (its own `units`, else the whole source as one unit of unknown repos),
    each naming the target as typed, or made absolute when it is a path and the units run
    `remote`ly (in another working directory)."""
    split = getattr(source, "units", None)
    units = split(stats) if split is not None else [Unit(target, "", source.name, repos=None)]
    units = units or [Unit(target, NOTHING, source.name, repos=())]
    return [replace(u, target=worker_target(target) if remote else target) for u in units]


EXPORTS = ("vault-export", "jira-export", "confluence-export")
"""Schemes whose target is a file (a worker reads it by its absolute path)."""


def worker_target(target: str) -> str:
    """The target as a worker must read it: a relative path made absolute."""
    from scanner.pipeline import SOURCES

    scheme, sep, rest = target.partition(":")
    if sep and scheme in SOURCES and scheme != "path" and len(scheme) > 1:
        if scheme in ("git", "dir", *EXPORTS) and rest and not Path(rest).is_absolute():
            return f"{scheme}:{os.path.abspath(rest)}"
        return target
    return target if Path(target).is_absolute() else os.path.abspath(target)


def release_memory() -> None:
    """Hand the heap a finished unit freed back to the system (glibc's `malloc_trim`; nothing
    elsewhere): glibc keeps freed pages of its per-thread arenas, so without it the coordinator's
    resident size grows with the units it went through rather than with what it still holds."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list[Any] = []


def _malloc_trim() -> Any:
    if not _TRIM:
        fn = None
        if sys.platform == "linux":
            import ctypes
            import ctypes.util

            try:
                fn = getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "malloc_trim", None)
            except OSError:  # not glibc (musl has no malloc_trim)
                fn = None
        _TRIM.append(fn)
    return _TRIM[0]


# -- running tasks ---------------------------------------------------------------------------

Submit = Callable[[Task], Any]
"""Starts a task elsewhere; gives a future (`.result()`)."""


@contextmanager
def executor(workers: int, scheduler: str | None, seed: tuple[str, Engine]) -> Iterator[tuple[Submit, int]]:
    """A way to run tasks elsewhere and how many run at once: the Dask cluster at `scheduler`
    (the rules sent once, as a worker plugin), else a local process pool of `workers` (forked
    with the engine `seed` already built; spawned processes get the rules once, at start)."""
    key, engine = seed
    rules = tuple(c.rule for c in engine.rules)
    if scheduler:
        client = connect(scheduler)
        try:
            from scanner.worker_rules import RulesPlugin

            client.register_plugin(RulesPlugin(key, rules), name=f"sprawlscan-rules-{key}")
            info = client.scheduler_info()
            slots = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
            yield ClusterSubmit(client, scheduler), max(1, slots)
        finally:
            client.close(timeout=SCHEDULER_TIMEOUT)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _ENGINES[key] = engine  # inherited by the forked workers
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=seed_rules, initargs=(key, rules))
    try:
        yield (lambda task: pool.submit(run_unit, task)), workers
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class ClusterGone(Exception):
    """The Dask client lost its scheduler: no task of this scan can finish there any more."""


class ClusterSubmit:
    """Submits tasks to a Dask client, and waits for them only while its scheduler is there:
    when the connection drops, Dask cancels every task in flight (reason
    `scheduler-connection-lost`) and the client gives up reconnecting after SCHEDULER_TIMEOUT;
    either way `ClusterGone` is raised instead of a result, never a hang."""

    def __init__(self, client: Any, address: str) -> None:
        self.client, self.address = client, address
        self.run = uuid.uuid4().hex[:12]
        self.counter = iter(range(1 << 62))

    @property
    def gone(self) -> ClusterGone:
        return ClusterGone(f"the Dask scheduler at {self.address} went away mid-scan")

    def __call__(self, task: Task) -> Any:
        if self.client.status != "running":
            raise self.gone
        return self.client.submit(run_unit, task, pure=False,
                                  key=f"sprawlscan-unit-{self.run}-{next(self.counter)}")

    def result(self, fut: Any) -> UnitResult:
        from distributed import wait

        while not fut.done():
            if self.client.status != "running":
                raise self.gone
            try:
                wait(fut, timeout=1.0)
            except TimeoutError:
                pass
            except Exception:  # a client closing under us: its status says so next turn
                time.sleep(0.1)
        try:
            return fut.result()  # type: ignore[no-any-return]
        except BaseException as exc:
            if getattr(exc, "reason", None) == "scheduler-connection-lost" or self._dropped(exc):
                raise self.gone from None
            raise

    def _dropped(self, exc: BaseException) -> bool:
        """Whether the client lost its scheduler: a closed connection may reach a result before
        the client's status says so, so that status is given a few seconds to change."""
        closed = "CommClosedError" in {c.__name__ for c in type(exc).__mro__}
        deadline = time.monotonic() + (SCHEDULER_GRACE if closed else 0.0)
        while self.client.status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.client.status != "running"


def connect(address: str) -> Any:
    """A Dask client of the scheduler at `tcp://HOST:PORT`; a malformed address, a missing
    `distributed` or a scheduler that does not answer within SCHEDULER_TIMEOUT is a
    `ConfigError` (exit 2), never a hang."""
    if not re.fullmatch(r"tcp://[A-Za-z0-9.\-]+:\d{1,5}|tcp://\[[0-9A-Fa-f:]+\]:\d{1,5}", address):
        raise ConfigError(f"--scheduler {address!r}: expected tcp://HOST:PORT")
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs Dask distributed: pip install 'sprawlscan[cluster]'") from None
    # the client's side of Dask (client, batched comms) logs to stderr, tracebacks included, when
    # it loses its scheduler; the scan says so in one line
    for name in ("distributed", "distributed.client", "distributed.batched"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} "
                          f"({type(exc).__name__}, {SCHEDULER_TIMEOUT:.0f}s timeout)") from None


def lost(exc: BaseException) -> bool:
    """A task the cluster gave up on (its workers kept dying, it was cancelled, the scheduler
    went away), as opposed to an exception the scanning code itself raised."""
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"KilledWorker", "CancelledError", "CommClosedError", "FutureCancelledError",
                         "TimeoutError", "OSError"})


def dispatch(tasks: Iterator[tuple[Task, bool]], local: Callable[[Task], UnitResult],
             submit: Submit | None, slots: int) -> Iterator[tuple[Task, UnitResult]]:
    """Each task's result, in task order. A task flagged local (or every task without `submit`)
    runs here when its turn comes; the others go to `submit`, at most two per slot in flight.
    A local pool that broke (a worker process died) reruns its tasks here; a task the cluster
    lost for good gives an incomplete result naming the unit. When the cluster's scheduler goes
    away, nothing more is sent there: every unit it held or would have run is given back empty,
    the last with one error line naming how many (and which) were not scanned."""
    pending: deque[tuple[Task, Any]] = deque()
    broken = False
    gone = ""
    stranded: list[Task] = []
    wait_for = getattr(submit, "result", None) or (lambda fut: fut.result())

    def settle() -> tuple[Task, UnitResult] | None:
        nonlocal broken, gone
        task, fut = pending.popleft()
        if fut is None:
            return task, local(task)
        try:
            return task, wait_for(fut)
        except SprawlscanError:
            raise
        except ClusterGone as exc:
            gone = str(exc)
            stranded.append(task)
            return None
        except BaseException as exc:
            if type(exc).__name__ == "BrokenProcessPool":
                broken = True
                return task, local(task)
            if not lost(exc):
                raise
            stats = ScanStats()
            stats.errors.append(f"{task.unit.name}: task lost on the cluster, not scanned "
                                f"({type(exc).__name__})")
            return task, UnitResult([], stats)

    try:
        for task, here in tasks:
            run_here = here or submit is None or broken
            if gone and not run_here:
                stranded.append(task)
                continue
            try:
                pending.append((task, None if run_here else submit(task)))  # type: ignore[misc]
            except ClusterGone as exc:
                gone = str(exc)
                stranded.append(task)
            while pending and (pending[0][1] is None or len(pending) >= 2 * slots
                               or pending[0][1].done() or gone):
                if (done := settle()) is not None:
                    yield done
        while pending:
            if (done := settle()) is not None:
                yield done
        for i, task in enumerate(stranded):
            stats = ScanStats()
            if i == len(stranded) - 1:
                names = ", ".join(t.unit.name for t in stranded[:5])
                more = f" and {len(stranded) - 5} more" if len(stranded) > 5 else ""
                stats.errors.append(f"{gone}: {len(stranded)} unit(s) not scanned ({names}{more})")
            yield task, UnitResult([], stats)
    finally:
        for _, fut in pending:
            if fut is not None:
                fut.cancel()
