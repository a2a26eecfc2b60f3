"""Bounded parsing of untrusted JSON and YAML, used everywhere sprawlscan reads either (scanned
configs, exports, workflows, inventories). A document nested deeper than `MAX_DEPTH`, a YAML
document whose aliases expand to more than `MAX_ALIAS_NODES` nodes (a "billion laughs"), or a YAML
text over `MAX_YAML` bytes raises `TooComplex` before any recursive code sees it. `TooComplex` is
a `ValueError` whose `reason` is the skip counter to bump (`too-deep`, `alias-bomb`, `too-large`),
so callers that already treat malformed input as "nothing here" stay correct, and callers with a
`ScanStats` count it.

YAML is checked on the parser's event stream, which is not recursive (libyaml keeps its own
stacks): depth is the number of open collections, and every alias adds the size of the node it
names, as if it were expanded.

Small files the user names (allowlists, baselines, `sprawlscan.toml`, rule files) are read with
`read_small_text`: a non-regular file (a FIFO, a device) or one over its bound is one line (a
`ConfigError`, exit 2), never a hang or a whole-memory read."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 200
"""Deepest nesting accepted (real configs and exports stay under 30)."""
MAX_ALIAS_NODES = 100_000
"""Most nodes that aliases may add when expanded (a GitLab CI file with anchors adds hundreds)."""
MAX_YAML = 16 * 1024 * 1024
"""Largest YAML text parsed (the pure-Python constructor is slow on more)."""

_EVENTS: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_SMALL_FILE = 16 * 1024 * 1024
"""Largest allowlist, baseline, config or rule file read (a baseline of 200k fingerprints fits)."""


def read_small_text(path: str | Path, what: str, limit: int = MAX_SMALL_FILE) -> str:
    """The UTF-8 text of a file the user named; `ConfigError` naming it when it cannot be read,
    is not a regular file or is over `limit` bytes. Opened without blocking and checked on the
    open descriptor, so a FIFO swapped in after a check cannot hang the read."""
    from scanner.errors import ConfigError

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        try:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{path}: {what} is not a regular file")
            data = fh.read(limit + 1)  # the size may change under us: never read past the bound
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: {what} is larger than {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: {what} is not UTF-8 text") from None


class TooComplex(ValueError):
    """A document over one of the bounds; `reason` names it, `str()` says it in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_yaml(text: str) -> None:
    """Raise `TooComplex` when `text` is over a bound; malformed YAML raises `yaml.YAMLError`."""
    if len(text) > MAX_YAML:
        raise TooComplex("too-large", f"YAML text over {MAX_YAML} bytes")
    try:
        _walk(text)
    except yaml.YAMLError as exc:
        # libyaml >= 0.2.5 (PyYAML 6.0.4 wheels) stops at its own depth limit while scanning ahead
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):
            raise TooComplex("too-deep", f"YAML nested deeper than {MAX_DEPTH} levels") from None
        raise


def _walk(text: str) -> None:
    open_sizes: list[int] = []
    open_anchors: list[str | None] = []
    sizes: dict[str, int] = {}
    added = 0
    for ev in yaml.parse(text, Loader=_EVENTS):
        if isinstance(ev, yaml.CollectionStartEvent):
            open_sizes.append(1)
            open_anchors.append(ev.anchor)
            if len(open_sizes) > MAX_DEPTH:
                raise TooComplex("too-deep", f"YAML nested deeper than {MAX_DEPTH} levels")
            continue
        if isinstance(ev, yaml.CollectionEndEvent):
            n, anchor = open_sizes.pop(), open_anchors.pop()
            if anchor:
                sizes[anchor] = n
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            n = sizes.get(ev.anchor or "", 1)
            added += n
            if added > MAX_ALIAS_NODES:
                raise TooComplex("alias-bomb",
                                 f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes")
        else:
            continue
        if open_sizes:
            open_sizes[-1] += n


def yaml_load(text: str, loader: Any = yaml.SafeLoader) -> Any:
    """`yaml.load` (a safe loader) of one document, after `check_yaml`."""
    check_yaml(text)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - callers pass SafeLoader subclasses
    except (ValueError, OverflowError) as exc:
        raise _bad_scalar(exc) from None


def yaml_load_all(text: str, loader: Any = yaml.SafeLoader) -> list[Any]:
    """Every document of `text` (a safe loader), after `check_yaml`."""
    check_yaml(text)
    try:
        return list(yaml.load_all(text, Loader=loader))  # noqa: S506
    except (ValueError, OverflowError) as exc:
        raise _bad_scalar(exc) from None


def _bad_scalar(exc: Exception) -> yaml.YAMLError:
    """The constructor's own error for a scalar it resolves but cannot build (`2026-13-45` is a
    timestamp by YAML's rules and no date), so callers see malformed YAML, not a crash."""
    return yaml.constructor.ConstructorError(None, None, f"bad value ({exc})", None)


def yaml_compose_all(text: str, loader: Any = _EVENTS) -> list[yaml.Node]:
    """The node trees of every document of `text` (with their marks), after `check_yaml`."""
    check_yaml(text)
    return list(yaml.compose_all(text, Loader=loader))


def json_loads(text: str | bytes) -> Any:
    """`json.loads`, refusing documents nested deeper than `MAX_DEPTH` (`TooComplex`);
    malformed JSON raises `json.JSONDecodeError` as usual."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise TooComplex("too-deep", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    if depth(doc) > MAX_DEPTH:
        raise TooComplex("too-deep", f"JSON nested deeper than {MAX_DEPTH} levels")
    return doc


def depth(doc: Any) -> int:
    """Nesting depth of parsed JSON (0 for a scalar), without recursion."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(doc, 0)]
    while todo:
        node, d = todo.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            d += 1
            deepest = max(deepest, d)
            todo.extend((child, d) for child in node if isinstance(child, (dict, list)))
    return deepest
