"""Time one file holding many secrets (issue 12: line numbers used to be found by recounting from
the start of the chunk, so time grew with the square of the file size).

    python bench/bench_many_secrets.py [--mb 6] [--secrets 10000]

Builds a file of about `--mb` MB with `--secrets` synthetic GitHub tokens spread evenly over its
lines, scans it with the engine alone and prints seconds and matches; then the same at half the
size, and the ratio (about 2 when linear, about 4 when quadratic)."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "fixtures")]

from detectors.loader import load_rules  # noqa: E402
from scanner.engine import Engine  # noqa: E402
from tokens import github  # noqa: E402


def build(size: int, secrets: int, seed: int = 1) -> bytes:
    """About `size` bytes of source lines, one `token = '<ghp_...>'` line every size/secrets bytes."""
    rng = random.Random(seed)
    filler = "x = compute(alpha, beta, gamma)  # ordinary code line\n"
    every = max(1, size // max(1, secrets) // len(filler))
    out: list[str] = []
    for _ in range(secrets):
        out.append(filler * every)
        out.append(f"token = '{github(rng)}'\n")
    return "".join(out).encode()


def timed(engine: Engine, data: bytes) -> tuple[float, int]:
    t = time.perf_counter()
    n = len(engine.scan(data))
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=6.0)
    ap.add_argument("--secrets", type=int, default=10000)
    args = ap.parse_args()
    engine = Engine(load_rules([]))
    size = int(args.mb * 1024 * 1024)
    half, full = build(size // 2, args.secrets // 2), build(size, args.secrets)
    t_half, n_half = timed(engine, half)
    t_full, n_full = timed(engine, full)
    print(f"{len(half) / 1e6:.1f} MB, {n_half} matches: {t_half:.2f} s")
    print(f"{len(full) / 1e6:.1f} MB, {n_full} matches: {t_full:.2f} s")
    print(f"ratio {t_full / t_half:.2f} (linear ~2, quadratic ~4)")


if __name__ == "__main__":
    main()
