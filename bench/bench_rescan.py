"""Time a first full-history scan recorded in a fresh datastore, then a rescan of the unchanged
repository with the same datastore (incremental: already-scanned blobs are neither read nor
scanned, their findings carried over).

    python bench/bench_rescan.py PATH [PATH ...] [--runs 3]

For each repository prints: unique blobs, seconds of a scan without datastore, first-scan seconds, rescan seconds (medians over
`--runs` fresh datastores), blobs read by each, blobs skipped as already scanned by the rescan,
findings of each (they must be equal). Each scan is a fresh `sprawlscan scan --db` process from
the bench venv (`bench/benchenv.py`: the project installed as the README does)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchenv
from bench_history import blob_stats

BIN: Path = benchenv.DEFAULT / "bin"


def repo_label(repo: str) -> str:
    parts = os.path.abspath(repo).rstrip("/").split("/")
    return "/".join(p for p in parts[-2:] if p not in ("repo", ".git"))[-30:]


def scan(repo: str, db: str | None, out: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "sprawlscan"), "scan", *(["--db", db] if db else []),
                    "--format", "json", "-o", out, repo], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, env={**os.environ, **benchenv.user_env(BIN)})
    wall = time.perf_counter() - t0
    with open(out, encoding="utf-8") as fh:
        return wall, json.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--venv", default=None, help="bench venv (default bench/.venv)")
    args = ap.parse_args()
    global BIN
    BIN = benchenv.ensure(*([Path(args.venv)] if args.venv else []), peers=False)
    print(f"{'repository':30} {'blobs':>7} {'no-db s':>8} {'first s':>8} {'rescan s':>8} {'speedup':>8} "
          f"{'read 1st':>8} {'read 2nd':>8} {'skipped':>8} {'found':>6} {'same':>5}")
    for repo in args.repos:
        blobs, _ = blob_stats(repo)
        plains, firsts, rescans = [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                db, out = os.path.join(tmp, "s.db"), os.path.join(tmp, "r.json")
                plains.append(scan(repo, None, out)[0])
                w1, first = scan(repo, db, out)
                w2, second = scan(repo, db, out)
            firsts.append(w1)
            rescans.append(w2)
        key = lambda doc: sorted((f["secret_sha256"], json.dumps(f["locations"], sort_keys=True))
                                 for f in doc["findings"])
        f1, f2 = statistics.median(firsts), statistics.median(rescans)
        print(f"{repo_label(repo):30} {blobs:7d} {statistics.median(plains):8.2f} {f1:8.2f} {f2:8.2f} {f1 / f2:7.1f}x "
              f"{first['summary']['blobs']:8d} {second['summary']['blobs']:8d} "
              f"{second['summary']['skipped'].get('already-scanned', 0):8d} "
              f"{len(second['findings']):6d} {key(first) == key(second)!s:>5}")


if __name__ == "__main__":
    main()
