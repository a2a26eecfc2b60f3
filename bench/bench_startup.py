"""Start-up benchmark: wall time of `sprawlscan scan DIR` on a directory holding one small file,
the cost a pre-commit hook or an editor integration pays on every call (target: <= 0.20 s).

    python bench/bench_startup.py [--runs 15] [--peers] [--venv DIR] [--reinstall]

Runs the bench venv's tools (`bench/benchenv.py`: `pip install .` as the README says); the first
call warms the compiled-rules cache and is not counted. With `--peers`, Kingfisher and gitleaks
on the same directory. Prints median, best and worst wall and the median CPU."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchenv  # noqa: E402
from bench_history import load, measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--peers", action="store_true")
    ap.add_argument("--venv", default=None)
    ap.add_argument("--reinstall", action="store_true")
    args = ap.parse_args()
    bin_dir = str(benchenv.ensure(*([Path(args.venv)] if args.venv else []),
                                  reinstall=args.reinstall, peers=args.peers))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "one"
        target.mkdir()
        (target / "settings.py").write_text("DEBUG = True\nNAME = 'demo'\n")
        plan = {"sprawlscan": [os.path.join(bin_dir, "sprawlscan"), "scan", "--format", "json",
                               str(target)]}
        if args.peers:
            plan["kingfisher"] = [os.path.join(bin_dir, "kingfisher"), "scan", str(target),
                                  "--no-validate", "--no-update-check", "--format", "json"]
            plan["gitleaks"] = [os.path.join(bin_dir, "gitleaks"), "dir", str(target),
                                "--no-banner"]
        print(load())
        env = benchenv.user_env(bin_dir)
        for name, cmd in plan.items():
            measure(cmd, env=env)  # warm: the compiled-rules cache and the page cache
        runs: dict[str, list] = {n: [] for n in plan}
        for _ in range(args.runs):
            for name, cmd in plan.items():
                runs[name].append(measure(cmd, env=env))
        for name, rs in runs.items():
            walls = sorted(r.wall for r in rs)
            print(f"{name:11} median {statistics.median(walls):.3f}s best {walls[0]:.3f}s "
                  f"worst {walls[-1]:.3f}s cpu {statistics.median(r.cpu for r in rs):.3f}s "
                  f"(n={len(walls)})")
        print(load())


if __name__ == "__main__":
    main()
