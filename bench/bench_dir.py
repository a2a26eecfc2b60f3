"""Directory-mode benchmark: sprawlscan vs Kingfisher (`--git-history none`) on file trees.

    python bench/bench_dir.py TREE [TREE ...] [--runs 3]

Prints files, bytes, wall median, CPU, peak RSS and the ratio to Kingfisher. Any large tree works,
e.g. a copy of a Python installation's site-packages (tens of thousands of files). Both tools run
from the bench venv (`bench/benchenv.py`: the project installed as the README does, with the peers)."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

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
    ap.add_argument("--venv", default=None, help="bench venv (default bench/.venv)")
    args = ap.parse_args()
    import benchenv

    bin_dir = benchenv.ensure(*([Path(args.venv)] if args.venv else []))
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"{'tree':24} {'tool':11} {'files':>6} {'MB':>7} {'wall s':>7} {'cpu s':>7} {'peak MB':>7} {'x KF':>5}")
    for tree in args.trees:
        files, size = tree_stats(tree)
        with tempfile.TemporaryDirectory() as tmp:
            plan = {"sprawlscan": [str(bin_dir / "sprawlscan"), "scan", "--format", "json", "-o",
                                   os.path.join(tmp, "s.json"), tree],
                    "kingfisher": ["sh", "-c", f"'{bin_dir / 'kingfisher'}' scan '{tree}' --git-history none "
                                   f"--no-validate --no-update-check --format json > /dev/null"]}
            env = {**os.environ, **benchenv.user_env(bin_dir)}
            runs: dict[str, list] = {n: [] for n in plan}
            for _ in range(args.runs):
                for name, cmd in plan.items():
                    runs[name].append(measure(cmd, cwd=here, env=env))
            med = {n: statistics.median(r.wall for r in rs) for n, rs in runs.items()}
            for name, rs in runs.items():
                x_kf = f"{med[name] / med['kingfisher']:5.2f}" if "kingfisher" in med else "    -"
                print(f"{os.path.basename(tree.rstrip('/'))[:24]:24} {name:11} {files:6d} "
                      f"{size / 1e6:7.0f} {med[name]:7.2f} {statistics.median(r.cpu for r in rs):7.2f} "
                      f"{max(r.rss for r in rs) / 1e6:7.0f} {x_kf}")


if __name__ == "__main__":
    main()
