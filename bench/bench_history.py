"""Time a full-history scan of one or more git repositories next to the `git cat-file` floor.

    python bench/bench_history.py PATH [PATH ...] [--runs 3]

For each repository prints: unique blobs, blob bytes, floor seconds (`git cat-file
--batch-all-objects --batch > /dev/null`), sprawlscan wall seconds (median), MB/s, peak RSS of the
sprawlscan process, findings. Repositories are not part of this project: clone any public repository
with thousands of commits (e.g. psf/requests, openai/openai-python) and pass its path."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def repo_label(repo: str) -> str:
    parts = os.path.abspath(repo).rstrip("/").split("/")
    return "/".join(p for p in parts[-2:] if p not in ("repo", ".git"))[-30:]


def blob_stats(repo: str) -> tuple[int, int]:
    out = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects",
                          "--batch-check=%(objecttype) %(objectsize)"],
                         capture_output=True, text=True, check=True).stdout
    sizes = [int(s) for t, s in (ln.split() for ln in out.splitlines()) if t == "blob"]
    return len(sizes), sum(sizes)


def timed(cmd: list[str], **kw: object) -> tuple[float, float, int, subprocess.CompletedProcess[bytes]]:
    """(wall s, cpu s, peak RSS bytes of the child) for one run of cmd."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, **kw)  # type: ignore[call-overload]
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss * 1024, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{'repository':30} {'blobs':>7} {'MB':>8} {'floor s':>8} {'scan s':>8} {'MB/s':>7} "
          f"{'cpu s':>7} {'peak MB':>8} {'x floor':>7} {'found':>6}")
    for repo in args.repos:
        blobs, size = blob_stats(repo)
        floor = statistics.median(
            timed(["git", "-C", repo, "cat-file", "--batch-all-objects", "--batch"],
                  stdout=subprocess.DEVNULL)[0] for _ in range(args.runs))
        walls, cpus, peak, found = [], [], 0, 0
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "r.json")
            for _ in range(args.runs):
                # a fresh interpreter per run: peak RSS is the scan's own
                wall, cpu, rss, proc = timed([sys.executable, "-m", "scanner", "scan", "--format",
                                              "json", "-o", out, repo], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
                walls.append(wall)
                cpus.append(cpu)
                peak = max(peak, rss)
                found = len(json.load(open(out))["findings"])
        wall = statistics.median(walls)
        print(f"{repo_label(repo):30} {blobs:7d} {size / 1e6:8.1f} "
              f"{floor:8.2f} {wall:8.2f} {size / 1e6 / wall:7.1f} {statistics.median(cpus):7.2f} "
              f"{peak / 1e6:8.0f} {wall / floor:7.1f} {found:6d}")


if __name__ == "__main__":
    main()
