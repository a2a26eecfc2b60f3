"""Build the labelled corpus into a directory and score a scan of it: recall and precision,
overall, per category and per provider. Used by tests/test_corpus.py and bench/corpus_quality.py."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tokens import SAMPLES, Sample

from detectors.loader import load_rules
from detectors.rule import Rule
from detectors.validators import is_placeholder
from scanner.engine import Engine
from scanner.model import Credential, fingerprint
from scanner.pipeline import ScanOptions, run_scan
from tests.corpus.negatives import hard_negatives, structured_negatives
from tests.corpus.styles import STYLES

SAMPLES_PER_RULE = 4


@dataclass(slots=True)
class Corpus:
    root: Path
    expected: dict[str, str] = field(default_factory=dict)
    """fingerprint -> rule id that should report it."""
    files: int = 0
    styles: dict[str, int] = field(default_factory=dict)


def prefixed(rule: Rule, secret: str) -> bool:
    """The secret carries one of the rule's keywords itself (no context needed)."""
    return any(k.lower() in secret.lower() for k in rule.keywords)


def build(root: Path, seed: int | str = 1, rules: list[Rule] | None = None) -> Corpus:
    """Write the corpus under `root`: every rule's samples spread over every file style that can
    carry them, a few samples per file, hard negatives mixed in, plus a file of negatives alone."""
    rng = random.Random(seed)
    rules = rules or load_rules()
    corpus = Corpus(root)
    root.mkdir(parents=True, exist_ok=True)
    queue: dict[str, list[tuple[Sample, str]]] = defaultdict(list)
    for rule in rules:
        for _ in range(SAMPLES_PER_RULE):
            sample = SAMPLES[rule.id](rng)
            while is_placeholder(sample.secret):
                # a random key that happens to hold `xxxx` or `12345678` is refused by design; the
                # filter's cost (~1e-5 of fresh keys) is measured by tests/test_rule_properties.py
                sample = SAMPLES[rule.id](rng)
            corpus.expected[fingerprint(sample.secret)] = rule.id
            ok = [s for s in STYLES if s.carries(sample.assignments, prefixed(rule, sample.secret))]
            queue[rng.choice(ok).name].append((sample, rule.id))
    negatives = hard_negatives(rng)
    by_name = {s.name: s for s in STYLES}
    for name, items in sorted(queue.items()):
        rng.shuffle(items)
        for n, start in enumerate(range(0, len(items), 3)):
            groups = [s.assignments for s, _ in items[start:start + 3]]
            text = by_name[name].render(groups, rng)
            if name in ("env", "python", "shell", "markdown", "yaml"):
                # hard negatives next to real secrets: context words must not leak between them
                text += "\n" + "\n".join(_comment(name, rng.choice(negatives)) for _ in range(3)) + "\n"
            (root / by_name[name].filename.format(n=n)).write_text(text, encoding="utf-8")
            corpus.files += 1
            corpus.styles[name] = corpus.styles.get(name, 0) + len(groups)
    (root / "negatives.txt").write_text("\n".join(negatives) + "\n", encoding="utf-8")
    corpus.files += 1
    for name, text in structured_negatives(rng).items():
        (root / "negatives" / name).parent.mkdir(exist_ok=True)
        (root / "negatives" / name).write_text(text, encoding="utf-8")
        corpus.files += 1
    return corpus


def _comment(style: str, line: str) -> str:
    return line if style in ("env", "shell", "markdown") else "# " + line.replace("\n", "\n# ")


@dataclass(frozen=True, slots=True)
class Score:
    tp: int
    fn: int
    fp: int

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


@dataclass(slots=True)
class Quality:
    overall: Score
    per_provider: dict[str, Score]
    per_category: dict[str, Score]
    found_rules: set[str]
    """Rule ids credited with at least one expected secret."""
    missed: list[str]
    """Rule ids of expected secrets that were not found."""
    false_positives: list[str]
    """Rule ids (and redacted previews) of unexpected findings."""


def score(corpus: Corpus, credentials: tuple[Credential, ...], rules: list[Rule]) -> Quality:
    provider_of = {r.id: r.provider for r in rules}
    category_of = {r.id: r.category for r in rules}
    found = {c.fingerprint: c for c in credentials}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    missed, fps, credited = [], [], set()
    for fp, rule_id in corpus.expected.items():
        c, k = counts[provider_of[rule_id]], by_cat[category_of[rule_id]]
        if fp in found:
            c[0] += 1
            k[0] += 1
            if found[fp].rule_id == rule_id:
                credited.add(rule_id)
        else:
            c[1] += 1
            k[1] += 1
            missed.append(rule_id)
    for fp, cred in found.items():
        if fp not in corpus.expected:
            counts[cred.provider][2] += 1
            by_cat[category_of.get(cred.rule_id, "other")][2] += 1
            fps.append(f"{cred.rule_id} {cred.redacted} {cred.locations[0].path}")
    per = {p: Score(*c) for p, c in sorted(counts.items())}
    per_cat = {p: Score(*c) for p, c in sorted(by_cat.items())}
    overall = Score(*(sum(s[i] for s in counts.values()) for i in range(3)))
    return Quality(overall, per, per_cat, credited, sorted(missed), sorted(fps))


def measure(root: Path, seed: int | str = 1, engine: Engine | None = None) -> tuple[Corpus, Quality]:
    rules = load_rules()
    corpus = build(root, seed, rules)
    result = run_scan([str(root)], ScanOptions(history=False), engine=engine or Engine(rules))
    return corpus, score(corpus, result.credentials, rules)


def table(q: Quality, by: str = "provider") -> str:
    """Per-provider (or, with `by="category"`, per-category) scores and the overall line."""
    rows = q.per_provider if by == "provider" else q.per_category
    width = max([14, *(len(p) + 2 for p in rows)])
    lines = [f"{by:<{width}}{'tp':>5}{'fn':>5}{'fp':>5}{'recall':>9}{'precision':>11}"]
    for p, s in rows.items():
        lines.append(f"{p:<{width}}{s.tp:>5}{s.fn:>5}{s.fp:>5}{s.recall:>9.3f}{s.precision:>11.3f}")
    o = q.overall
    lines.append(f"{'OVERALL':<{width}}{o.tp:>5}{o.fn:>5}{o.fp:>5}{o.recall:>9.3f}{o.precision:>11.3f}")
    return "\n".join(lines)
