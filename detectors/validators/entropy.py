"""Shannon entropy of a candidate, in bits per character: random keys score high, words low."""

from __future__ import annotations

import math
from collections import Counter


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())
