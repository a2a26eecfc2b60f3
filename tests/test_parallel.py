"""The worker pool: results in task order, at most two tasks per worker in flight (memory stays
bounded), a worker that dies loses no task, and `SPRAWLSCAN_WORKERS` is checked."""

from __future__ import annotations

import os

import pytest

from detectors.loader import load_rules
from scanner.engine import Engine
from scanner.errors import ConfigError
from scanner.parallel import WorkerPool, default_workers
from tokens import github

ENGINE = Engine(load_rules())
PARENT = os.getpid()


def scan_text(engine: Engine, task: tuple[int, str]) -> tuple[int, int, list[str]]:
    n, text = task
    return n, os.getpid(), [m.secret for m in engine.scan(text.encode())]


def die_in_worker(engine: Engine, task: tuple[int, str]) -> tuple[int, int, list[str]]:
    if os.getpid() != PARENT and task[0] == 3:
        os._exit(9)  # a worker killed mid-task (OOM killer, segfault)
    return scan_text(engine, task)


def tasks(rng, n=12):
    secrets = [github(rng) for _ in range(n)]
    return secrets, [(i, f"x = 1\ntoken = '{s}'\n") for i, s in enumerate(secrets)]


def test_results_come_back_in_task_order_from_worker_processes(rng):
    """Every task's matches, in order, computed by the forked workers with the inherited engine."""
    secrets, work = tasks(rng)
    with WorkerPool(ENGINE, 2) as pool:
        out = list(pool.map(scan_text, work))
    assert [n for n, _, _ in out] == list(range(len(work)))
    assert [found for _, _, found in out] == [[s] for s in secrets]
    assert {pid for _, pid, _ in out} - {PARENT}, "nothing ran in a worker"


def test_at_most_two_tasks_per_worker_are_in_flight(rng):
    """The pool pulls a task only when fewer than 2 x workers are pending: a reader feeding it
    never runs ahead of the scanners by more than that."""
    _, work = tasks(rng, 20)
    pulled = 0

    def feed():
        nonlocal pulled
        for task in work:
            pulled += 1
            yield task

    ahead = []
    with WorkerPool(ENGINE, 2) as pool:
        for got, _ in enumerate(pool.map(scan_text, feed()), start=1):
            ahead.append(pulled - got)
    assert max(ahead) <= 4 and len(ahead) == 20


def test_a_dead_worker_loses_no_task(rng):
    """When a worker dies, its task and every later one run in this process: same results."""
    secrets, work = tasks(rng)
    with WorkerPool(ENGINE, 2) as pool:
        out = list(pool.map(die_in_worker, work))
    assert [found for _, _, found in out] == [[s] for s in secrets]
    assert out[3][1] == PARENT


def test_one_worker_runs_in_this_process(rng):
    secrets, work = tasks(rng, 3)
    with WorkerPool(ENGINE, 1) as pool:
        out = list(pool.map(scan_text, work))
    assert [(pid, found) for _, pid, found in out] == [(PARENT, [s]) for s in secrets]


def test_workers_setting(monkeypatch):
    monkeypatch.setenv("SPRAWLSCAN_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("SPRAWLSCAN_WORKERS")
    assert default_workers() == (os.cpu_count() or 1)
    for bad in ("0", "two"):
        monkeypatch.setenv("SPRAWLSCAN_WORKERS", bad)
        with pytest.raises(ConfigError, match="SPRAWLSCAN_WORKERS"):
            default_workers()


def compiled(engine: Engine, task: int) -> int:
    return sum(1 for c in engine.rules if c._regex is not None)


def test_workers_compile_only_the_rule_regexes_they_use(rng):
    """Starting a pool compiles no rule regex up front (a scan uses a few of hundreds); a worker
    compiles what it matches with, and finds the same secrets."""
    engine = Engine(load_rules())
    secrets, work = tasks(rng, 4)
    with WorkerPool(engine, 2) as pool:
        assert compiled(engine, 0) == 0
        out = list(pool.map(scan_text, work))
        used = list(pool.map(compiled, range(4)))
    assert [found for _, _, found in out] == [[s] for s in secrets]
    assert 0 < max(used) and all(n < len(engine.rules) // 4 for n in used), used


_MAPPED = """
import ctypes


class _Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]


def _mapped_chunks():
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Info
    return int(libc.mallinfo2().hblks)
"""
"""glibc's count of chunks it gave with their own mmap (`mallinfo2().hblks`)."""
exec(_MAPPED)


def big_alloc(engine: Engine, size: int) -> tuple[int, int]:
    before = _mapped_chunks()
    data = bytearray(size)
    during = _mapped_chunks()
    del data
    return os.getpid(), during - before


def test_workers_take_blobs_up_to_32_mib_from_the_heap():
    """A worker gets a 16 MiB blob's memory from its heap (kept for the next blob), where glibc's
    defaults give a fresh process a mapping of its own for it (a page fault per page, each
    blob): `tune_heap` ran in the worker."""
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-c", _MAPPED + "before = _mapped_chunks()\n"
                            "d = bytearray(16 << 20)\nprint(_mapped_chunks() - before)\n"],
                           capture_output=True, text=True, check=True).stdout
    assert fresh.strip() == "1"
    with WorkerPool(ENGINE, 2) as pool:
        out = list(pool.map(big_alloc, [16 << 20] * 4))
    assert {pid for pid, _ in out} - {PARENT} and [n for _, n in out] == [0, 0, 0, 0]

