"""Print recall and precision of the built-in rules on the labelled corpus, per category and per
provider.

    python bench/corpus_quality.py [SEED ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "fixtures")]

from tests.corpus.quality import measure, table  # noqa: E402


def main(seeds: list[str]) -> None:
    for seed in seeds or ["corpus-v1"]:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            corpus, q = measure(Path(tmp) / "corpus", seed)
            took = time.perf_counter() - t0
        print(f"seed {seed}: {corpus.files} files, {len(corpus.expected)} secrets, {took:.2f}s")
        print(table(q, by="category"))
        print(table(q))
        for what, items in (("missed", q.missed), ("false positive", q.false_positives)):
            for item in items:
                print(f"  {what}: {item}")


if __name__ == "__main__":
    main(sys.argv[1:])
