"""Engine throughput on a directory of source files, both prefilter backends.

    python bench/bench_engine.py DIR [--limit 5000]

Reads up to `--limit` .py/.js files under DIR into memory, then times `Engine.scan` over all of
them with hyperscan and with the Aho-Corasick fallback (`regex`) (best of 3) and prints MB/s and match
counts. A Python installation's site-packages is a handy corpus of code without secrets."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.loader import load_rules  # noqa: E402
from scanner.engine import Engine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--limit", type=int, default=5000)
    args = ap.parse_args()
    files = sorted(p for ext in ("*.py", "*.js") for p in args.dir.rglob(ext) if p.is_file())[:args.limit]
    datas = [p.read_bytes() for p in files]
    mb = sum(map(len, datas)) / 1e6
    rules = load_rules()
    for backend in ("hyperscan", "regex"):
        engine = Engine(rules, backend=backend)
        best, found = float("inf"), 0
        for _ in range(3):
            t0 = time.perf_counter()
            found = sum(len(engine.scan(d)) for d in datas)
            best = min(best, time.perf_counter() - t0)
        print(f"{engine.backend:9} rules={len(rules)} files={len(datas)} {mb:.1f} MB "
              f"{best:.3f}s {mb / best:.0f} MB/s matches={found}")


if __name__ == "__main__":
    main()
