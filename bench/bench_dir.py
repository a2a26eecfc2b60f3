"""Directory-mode benchmark: sprawlscan vs Kingfisher (`--git-history none`) on file trees.

    python bench/bench_dir.py TREE [TREE ...] [--runs 3]

Prints files, bytes, wall median, CPU, peak RSS and the ratio to Kingfisher. Any large tree works,
e.g. a copy of a Python installation's site-packages (tens of thousands of files)."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile

from bench_history import measure


def tree_stats(root: str) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                files += 1
                size += os.path.getsize(p)
    return files, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{'tree':24} {'tool':11} {'files':>6} {'MB':>7} {'wall s':>7} {'cpu s':>7} {'peak MB':>7} {'x KF':>5}")
    for tree in args.trees:
        files, size = tree_stats(tree)
        with tempfile.TemporaryDirectory() as tmp:
            plan = {"sprawlscan": [sys.executable, "-m", "scanner", "scan", "--format", "json", "-o",
                                   os.path.join(tmp, "s.json"), tree]}
            if shutil.which("kingfisher"):
                plan["kingfisher"] = ["sh", "-c", f"kingfisher scan '{tree}' --git-history none "
                                      f"--no-validate --no-update-check --format json > /dev/null"]
            runs: dict[str, list] = {n: [] for n in plan}
            for _ in range(args.runs):
                for name, cmd in plan.items():
                    runs[name].append(measure(cmd, cwd=here))
            med = {n: statistics.median(r.wall for r in rs) for n, rs in runs.items()}
            for name, rs in runs.items():
                x_kf = f"{med[name] / med['kingfisher']:5.2f}" if "kingfisher" in med else "    -"
                print(f"{os.path.basename(tree.rstrip('/'))[:24]:24} {name:11} {files:6d} "
                      f"{size / 1e6:7.0f} {med[name]:7.2f} {statistics.median(r.cpu for r in rs):7.2f} "
                      f"{max(r.rss for r in rs) / 1e6:7.0f} {x_kf}")


if __name__ == "__main__":
    main()
