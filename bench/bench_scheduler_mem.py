"""Memory of a long-lived Dask cluster across scans: a folder of N small git repositories (one
unit, so one Dask task, each), scanned K times in a row with `sprawlscan scan --scheduler` on one
scheduler and two single-threaded workers (separate processes on 127.0.0.1, no nannies); after
each scan the scheduler's and each worker's resident size (VmRSS), and the coordinator's peak
(its `ru_maxrss`) and CPU seconds. A cluster that serves scheduled scans must plateau: the
scheduler's RSS after scan K should not grow by a fixed amount per task.

    python bench/bench_scheduler_mem.py [--repos 300] [--scans 4] [--src DIR]

`--src DIR` runs another checkout's `scanner` (coordinator and workers alike, via PYTHONPATH),
e.g. an older main, against the same folder in the same minute. Every scan must find exactly
the planted credentials (a synthetic GitHub PAT in every tenth repository): otherwise exit 1."""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures"))

import tokens  # noqa: E402


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_folder(root: Path, n: int) -> int:
    """N repositories of one commit each; every tenth holds a synthetic PAT. Returns how many."""
    rng = random.Random(7)
    planted = 0
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    for i in range(n):
        repo = root / f"r{i:05d}"
        text = f"def handler_{i}(event):\n    return {{'id': {i}}}\n"
        if i % 10 == 0:
            text += f"TOKEN = '{tokens.github(rng)}'\n"
            planted += 1
        body = text.encode()
        stream = (b"commit refs/heads/main\ncommitter b <b@example.com> 1700000000 +0000\n"
                  b"data 4\ninit\nM 100644 inline app.py\n"
                  + f"data {len(body)}\n".encode() + body + b"\n")
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream,
                       check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True, env=env)
    return planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=int, default=300)
    ap.add_argument("--scans", type=int, default=4)
    ap.add_argument("--src", type=Path, default=ROOT, help="checkout whose scanner runs")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve()), "SPRAWLSCAN_WORKERS": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-schedmem-") as tmp:
        work = Path(tmp)
        planted = make_folder(work / "org", args.repos)
        sched_file = work / "scheduler.json"
        procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                   "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(sched_file)], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        try:
            deadline = time.monotonic() + 60
            while not sched_file.exists() or not sched_file.read_text().strip():
                if time.monotonic() > deadline:
                    raise SystemExit("bench_scheduler_mem: the scheduler did not start")
                time.sleep(0.1)
            address = json.loads(sched_file.read_text())["address"]
            for _ in range(2):
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                     "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], env=env,
                    cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            from distributed import Client

            with Client(address, timeout=30, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=60)
            time.sleep(1)
            print(f"src {args.src} | {args.repos} repos ({planted} planted) | load "
                  + " ".join(f"{x:.2f}" for x in os.getloadavg()))
            print(f"before      scheduler {rss_kib(procs[0].pid) / 1024:6.0f} MiB  workers "
                  + " ".join(f"{rss_kib(p.pid) / 1024:.0f}" for p in procs[1:]) + " MiB")
            bad = False
            for k in range(1, args.scans + 1):
                out = work / f"scan{k}.json"
                child = subprocess.Popen(
                    [sys.executable, "-m", "scanner", "scan", "--format", "json", "-o", str(out),
                     "--scheduler", address, str(work / "org")], env=env, cwd=tmp,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(status)
                found = len(json.loads(out.read_text())["findings"]) if out.exists() else -1
                bad |= found != planted
                time.sleep(1)  # the scheduler forgets the scan's tasks
                print(f"after scan {k} scheduler {rss_kib(procs[0].pid) / 1024:6.0f} MiB  workers "
                      + " ".join(f"{rss_kib(p.pid) / 1024:.0f}" for p in procs[1:])
                      + f" MiB | coordinator peak {usage.ru_maxrss / 1024:.0f} MiB, "
                      f"{usage.ru_utime + usage.ru_stime:.1f} CPU s | exit {child.returncode}, "
                      f"{found} found")
            print("load " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
    if bad:
        raise SystemExit("bench_scheduler_mem: a scan did not find exactly the planted credentials")


if __name__ == "__main__":
    main()
