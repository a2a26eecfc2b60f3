"""Stage: dispatch, on a Dask cluster. `RulesPlugin` carries one scan's rules to every Dask
worker once, so that the tasks of `scanner.units` name them by digest only. Imported only when
a scan runs with `--scheduler` (it needs `distributed`, the `cluster` extra)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from detectors.rule import Rule
from scanner.units import seed_rules


class RulesPlugin(WorkerPlugin):
    """One rule set, under its digest. The scheduler keeps one plugin per name (the name holds
    the digest, so registering the same rules again does nothing) and sets it up on every
    worker, present or joining later, before that worker runs a task. There is no teardown:
    another scan with the same rules may still be running."""

    idempotent = True

    def __init__(self, key: str, rules: tuple[Rule, ...]) -> None:
        self.key, self.rules = key, rules

    def setup(self, worker: Any) -> None:
        seed_rules(self.key, self.rules)
