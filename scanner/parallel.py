"""The engine stage on every core: `WorkerPool(engine, n).map(fn, tasks)` gives `fn(engine, task)` for
every task, computed on worker processes, each with the same compiled engine (`WorkerPool`).

Engine work is Python (regex windows, escapes, validators) and holds the GIL, so threads would
not help: the work goes to processes. A task names its input rather than carrying it (the git
history source sends runs of blob ids; each worker reads them through its own `git cat-file`
process), so no content crosses a process boundary, only ids and matches. At most two tasks per
worker are in flight, which bounds memory whatever the input's size. On Linux the workers are
forked and inherit the engine (its Hyperscan database; each compiles the rule regexes it uses
on first use); elsewhere each builds its own from the same rules. A task whose worker died is
run again in this process, so nothing is lost. Results come back in task order."""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from detectors.rule import Rule
from scanner.engine import Engine
from scanner.errors import ConfigError

if TYPE_CHECKING:  # multiprocessing loads only when a pool starts (start-up time)
    from concurrent.futures import Future, ProcessPoolExecutor

WORKERS_ENV = "SPRAWLSCAN_WORKERS"
T = TypeVar("T")
R = TypeVar("R")

_ENGINE: Engine | None = None
"""The engine of this worker process (inherited when forked, built by `_init` otherwise)."""


def default_workers() -> int:
    """`$SPRAWLSCAN_WORKERS`, else one worker per core (1: everything in this process)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return os.cpu_count() or 1
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"{WORKERS_ENV}={raw!r}: expected a whole number of at least 1")
    return n


def _init(rules: list[Rule], backend: str) -> None:
    global _ENGINE
    _ENGINE = Engine(rules, backend=backend)


def _call(fn: Callable[[Engine, T], R], task: T) -> R:
    assert _ENGINE is not None
    return fn(_ENGINE, task)


def _noop() -> None:
    return None


HEAP_LIMITS = (32 << 20, 128 << 20)
"""glibc's mmap and trim thresholds in a worker: a blob up to 32 MiB comes from the heap and up
to 128 MiB of freed heap is kept, where glibc's defaults map and unmap many large blobs, a page
fault per page each time (on openai-python's history ~2% of the scan's CPU). Memory stays bounded
by the blobs in flight. (`GLIBC_TUNABLES` for git's `cat-file` measured no gain.)"""


def tune_heap() -> None:
    """Set `HEAP_LIMITS` in this process (glibc only; elsewhere nothing)."""
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return
    mmap_threshold, trim_threshold = -3, -1  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
    mallopt(mmap_threshold, HEAP_LIMITS[0])
    mallopt(trim_threshold, HEAP_LIMITS[1])


class WorkerPool:
    """`map(fn, tasks)` gives `fn(engine, task)` for each task, in order; on `workers` processes
    when more than one (`fn` must be a module-level function, the tasks and results picklable).
    The processes start at once: fork them before starting threads or opening pipes, which a
    forked child would otherwise hold open."""

    def __init__(self, engine: Engine, workers: int) -> None:
        global _ENGINE
        self.engine, self.workers = engine, workers
        self.pool: ProcessPoolExecutor | None = None
        if workers <= 1:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if sys.platform == "linux":
            # rule regexes compile on first use, in each worker: a history scan uses a few of
            # them (10 of 272 on openai-python), compiling all here cost ~0.1 s before any work
            _ENGINE = engine
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                            initializer=tune_heap)
        else:  # pragma: no cover - spawn platforms build the engine in each worker
            self.pool = ProcessPoolExecutor(workers, initializer=_init,
                                            initargs=([c.rule for c in engine.rules], engine.backend))
        self.pool.submit(_noop).result()

    def map(self, fn: Callable[[Engine, T], R], tasks: Iterable[T]) -> Iterator[R]:
        pool = self.pool
        if pool is None:
            for task in tasks:
                yield fn(self.engine, task)
            return
        from concurrent.futures.process import BrokenProcessPool

        pending: deque[tuple[Future[R], T]] = deque()
        broken = False

        def settle() -> R:
            nonlocal broken
            fut, task = pending.popleft()
            try:
                return fut.result()
            except BrokenProcessPool:  # a worker died: its task runs here
                broken = True
                return fn(self.engine, task)

        try:
            for task in tasks:
                if broken:
                    yield fn(self.engine, task)
                    continue
                pending.append((pool.submit(_call, fn, task), task))
                while pending and (pending[0][0].done() or len(pending) >= 2 * self.workers):
                    yield settle()
            while pending:
                yield settle()
        finally:
            for fut, _ in pending:
                fut.cancel()

    def close(self) -> None:
        global _ENGINE
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        _ENGINE = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
