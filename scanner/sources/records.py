"""Source side of the graph's records: reads what the graph needs from a local git repository or
folder, once per scan, and gives it as `InventoryFact` records (`file`: a workflow, CI, MCP/agent,
compose, dotenv or code file's text at HEAD plus untracked working-tree files; `git-repo`: the
repository itself; `pinned`: a file at a ref some workflow pins). Only HEAD and config files are
read, never history blobs; of a code file only the lines that read an environment variable are
kept (all the graph parses there). `redact` replaces every value the engine finds in record text by its
redacted preview (line count kept, so named copies keep their lines) before the records go on to
the graph or the datastore."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from scanner import gitcmd
from scanner.agent_configs import ENV_REF, config_kind
from scanner.engine import Engine
from scanner.model import Chunk, InventoryFact, Location, Match, ScanStats, redact as preview
from scanner.sources.base import DEFAULT_EXCLUDES
from scanner.sources.files import excluded
from scanner.sources.git_history import is_git_repo, repo_name

MAX_CONFIG_BYTES = 1024 * 1024
RECORD_KINDS = ("file", "pinned", "git-repo")
"""Kinds of records read from local places (forge sources add theirs through their APIs)."""


def _interesting(path: str) -> bool:
    return PurePosixPath(path).suffix in (".yml", ".yaml") or config_kind(path) is not None


def _read(path: Path, limit: int = MAX_CONFIG_BYTES) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limit:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return None if b"\0" in data[:8192] else data.decode("utf-8", "replace")


def blobs(repo: Path, specs: Sequence[str], limit: int = MAX_CONFIG_BYTES) -> list[bytes | None]:
    """Contents of `rev:path` specs read from the repository's objects (None: not there, not a
    blob, too large). Specs go through stdin (`cat-file --batch`), never as arguments."""
    if not specs or any("\n" in sp or "\0" in sp for sp in specs):
        return [None] * len(specs)
    proc = gitcmd.run(repo, "cat-file", "--batch", input="".join(f"{sp}\n" for sp in specs).encode())
    out: list[bytes | None] = []
    data, pos = proc.stdout, 0
    for _ in specs:
        end = data.find(b"\n", pos)
        if end < 0:
            out.append(None)
            continue
        header = data[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[-1] == b"missing" or header[1] != b"blob":
            if len(header) >= 3 and header[1] != b"blob":
                pos += int(header[2]) + 1
            out.append(None)
            continue
        size = int(header[2])
        out.append(data[pos:pos + size] if size <= limit else None)
        pos += size + 1
    return out


def _head_blobs(repo: Path, limit: int) -> list[tuple[str, str]]:
    """(path, blob id) of every file at HEAD no larger than `limit` (read by id, not by
    `HEAD:path`: no path lookup per file, and a name that is not UTF-8 or holds a newline
    cannot stand for another file or stop the others being read)."""
    ls = gitcmd.run(repo, "ls-tree", "-r", "-z", "-l", "HEAD")
    out = []
    for entry in ls.stdout.split(b"\0"):
        meta, tab, raw = entry.partition(b"\t")
        parts = meta.split()
        if not tab or len(parts) != 4 or parts[1] != b"blob" or not parts[3].isdigit():
            continue
        if int(parts[3]) <= limit:
            out.append((raw.decode("utf-8", "replace"), parts[2].decode("ascii", "replace")))
    return out


def _head_files(repo: Path, limit: int = MAX_CONFIG_BYTES) -> dict[str, str]:
    """Text of the interesting files at HEAD, plus untracked ones from the working tree; none
    larger than `limit` (the scan's `--max-file-size`: a file whose values the scan did not read
    must be missing for the graph, so what reads it blocks, not "holds no credential")."""
    out: dict[str, str] = {}
    names, ids = [], []
    for n, sha in _head_blobs(repo, limit):
        if _interesting(n) and not excluded(n, DEFAULT_EXCLUDES):
            names.append(n)
            ids.append(sha)
    for n, data in zip(names, blobs(repo, ids, limit), strict=True):
        if data is not None and b"\0" not in data[:8192]:
            out[n] = data.decode("utf-8", "replace")
    if (repo / ".git").exists():
        other = gitcmd.run(repo, "--work-tree", str(repo.resolve()), "ls-files", "-o", "-z",
                           "--exclude-standard").stdout.decode("utf-8", "replace")
        for n in other.split("\0"):
            if n and _interesting(n) and not excluded(n, DEFAULT_EXCLUDES):
                text = _read(repo / n, limit)
                if text is not None:
                    out[n] = text
    return out


def _dir_files(root: Path, limit: int = MAX_CONFIG_BYTES, excludes: tuple[str, ...] = DEFAULT_EXCLUDES) -> dict[str, str]:
    """The interesting files of a folder the scan reads too: not excluded, not over `limit`."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not excluded(rel_dir + d, excludes)
                             and not is_git_repo(base / d))
        for name in filenames:
            rel = rel_dir + name
            if _interesting(rel) and not excluded(rel, excludes):
                text = _read(base / name, limit)
                if text is not None:
                    out[rel] = text
    return out


CODE_TOKENS = ("environ", "getenv", "process.env")
"""What code must hold for the graph to read a name from it (`os.environ[...]`, `os.getenv(...)`,
`process.env.X`): the only lines of a code file its record keeps."""


def code_lines(text: str) -> str:
    """A code file as its record keeps it: the lines that name an environment variable, each
    with the two lines after it (an expression split over lines); the rest is not the graph's."""
    if "env" not in text or not any(t in text for t in CODE_TOKENS):
        return ""
    lines = text.splitlines()
    keep: set[int] = set()
    for i, line in enumerate(lines):  # every token holds "env": most lines stop at that test
        if "env" in line and any(t in line for t in CODE_TOKENS):
            keep.update((i, i + 1, i + 2))
    return "\n".join(lines[i] for i in sorted(keep) if i < len(lines))


def dotenv_shape(text: str) -> str:
    """A dotenv file as its record keeps it: at each line, the name it sets and whether with a
    literal value (`NAME=<value>`) or with references (`NAME=${X}`), all the graph reads there.
    No value is kept, whether or not a rule recognises it (a database password in a `.env` is
    still a password); other lines are left empty so line numbers hold."""
    out = []
    for line in text.splitlines():
        body = line.strip()
        if not body or body.startswith("#") or "=" not in body:
            out.append("")
            continue
        key, _, value = body.removeprefix("export ").partition("=")
        refs = [m.group(0) for m in ENV_REF.finditer(value)]
        out.append(f"{key.strip()}=" + (" ".join(refs) if refs else "<value>" if value.strip() else ""))
    return "\n".join(out)


def _content(path: str, text: str) -> str:
    kind = config_kind(path)
    return code_lines(text) if kind == "code" else dotenv_shape(text) if kind == "dotenv" else text


def _files(container: str, files: dict[str, str]) -> list[InventoryFact]:
    return [InventoryFact("file", container, path, content=_content(path, text))
            for path, text in files.items()]


def repo_records(repo: Path, name: str | None = None, limit: int = MAX_CONFIG_BYTES) -> list[InventoryFact]:
    """A git repository: the repository itself and its interesting files at HEAD."""
    name = name or repo_name(repo)
    return [InventoryFact("git-repo", name, str(repo))] + _files(name, _head_files(repo, min(limit, MAX_CONFIG_BYTES)))


def target_records(path: Path, limit: int = MAX_CONFIG_BYTES,
                   excludes: tuple[str, ...] = DEFAULT_EXCLUDES) -> list[InventoryFact]:
    """What the graph needs from one scanned path: a git repository's HEAD, a folder's files (and
    each git repository inside it, by its own name), or a single file (container empty)."""
    if not path.exists():
        return []
    if path.is_dir() and is_git_repo(path):
        return repo_records(path, limit=limit)
    if path.is_file():
        text = _read(path, min(limit, MAX_CONFIG_BYTES))
        return _files("", {path.name: text}) if text is not None else []
    out = _files(str(path), _dir_files(path, min(limit, MAX_CONFIG_BYTES), excludes))
    for dirpath, dirnames, _ in os.walk(path):
        for d in list(dirnames):
            sub = Path(dirpath) / d
            if excluded(d, excludes):
                dirnames.remove(d)
            elif is_git_repo(sub):
                dirnames.remove(d)
                out += repo_records(sub, limit=limit)
    return out


def pinned_records(records: Iterable[InventoryFact],
                   wanted: Iterable[tuple[str, str, str]]) -> list[InventoryFact]:
    """The files at pinned refs, read from the scanned git repositories: one `pinned` record per
    wanted (repo, ref, path), `level` `head` when it is HEAD's blob, `missing` when not there."""
    local = {r.scope: Path(r.name) for r in records if r.kind == "git-repo"}
    out = []
    for repo, ref, path in sorted(wanted):
        if repo not in local:
            continue
        head, pinned = blobs(local[repo], [f"HEAD:{path}", f"{ref}:{path}"])
        if pinned is None:
            out.append(InventoryFact("pinned", repo, path, "missing", ref=ref))
        else:
            out.append(InventoryFact("pinned", repo, path, "head" if pinned == head else "", ref=ref,
                                     content=_content(path, pinned.decode("utf-8", "replace"))))
    return out


def redact(records: Iterable[InventoryFact], engine: Engine,
           stats: ScanStats | None = None) -> tuple[InventoryFact, ...]:
    """Records whose text holds no value any rule finds: each match replaced by its redacted
    preview (a multi-line value keeps its line breaks), through the same passes as a scanned
    file (rules, then structured configs with declared secret names)."""
    from scanner.sources.base import structured

    out = []
    for r in records:
        if not r.content:
            out.append(r)
            continue
        data = r.content.encode("utf-8", "surrogatepass")
        chunk = Chunk(data, (Location("file", r.scope, r.name),), hint=PurePosixPath(r.name).name)
        matches: list[Match] = engine.scan(data)
        matches += [m for m in structured(chunk, engine, matches, stats or ScanStats())
                    if isinstance(m, Match)]
        if engine.timeouts:  # a user rule that ran out of time redacted nothing here
            (stats or ScanStats()).rule_timeouts(engine.take_timeouts(), f"record {r.scope}:{r.name}")
        text = r.content
        for m in sorted(matches, key=lambda m: -len(m.secret)):  # a longer value before its parts
            if m.secret and m.secret in text:
                text = text.replace(m.secret, preview(m.secret, dict(m.captures).get("key_id"))
                                    + "\n" * m.secret.count("\n"))
        out.append(replace(r, content=text) if text != r.content else r)
    return tuple(out)
