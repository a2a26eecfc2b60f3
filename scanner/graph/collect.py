"""Graph input: reads the scanned repositories and directories for what the graph needs besides
credentials. Takes the SOURCE targets of a scan and gives `Collected`: every parsed workflow /
config entry (HEAD versions of `.github/workflows/*`, composite actions, `.gitlab-ci.yml` and
the files it includes, MCP configs, agent configs, code) keyed by node id, and `NamedCopy` lines
(dotenv `NAME=` lines, MCP literal env entries) so a value found there can be named. A repository
is known by its `origin` name, a plain directory by its path (as scan locations are). `add_facts`
adds what forge sources read through their APIs (`ScanResult.facts`): workflow and CI files, and
the names of CI secrets whose values cannot be read."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from scanner import gitcmd
from scanner.graph import configs
from scanner.graph.inventory import WorkflowRef
from scanner.graph.workflows import Call, WorkflowFile, parse_github, parse_gitlab
from scanner.sources.files import DEFAULT_EXCLUDES, excluded
from scanner.sources.git_history import is_git_repo, repo_name

MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class NamedCopy:
    """A line where a value is stored under a name (the value itself is never read out)."""

    container: str
    path: str
    line: int
    name: str


@dataclass(slots=True)
class Collected:
    files: dict[str, WorkflowFile] = field(default_factory=dict)
    named: list[NamedCopy] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    """Node ids of every config / code file read, even those that reference nothing."""
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    """(container, path) → text of YAML files, for includes that other repositories name."""
    stored_names: set[tuple[str, str, str]] = field(default_factory=set)
    """(scope, name, environment) of CI secrets a forge lists by name (values unreadable);
    scope `org:<login>` for GitHub org secrets."""
    errors: list[str] = field(default_factory=list)
    git_dirs: dict[str, Path] = field(default_factory=dict)
    """Repository name → local git repository, for files read at a pinned ref."""
    missing: dict[str, str] = field(default_factory=dict)
    """Node → why a called / included file could not be read (a pinned ref not available)."""


def _interesting(path: str) -> bool:
    p = PurePosixPath(path)
    return (p.suffix in (".yml", ".yaml") or configs.config_kind(path) is not None)


def _head_files(repo: Path) -> dict[str, str]:
    """Text of the interesting files at HEAD, plus untracked ones from the working tree."""
    out: dict[str, str] = {}
    ls = gitcmd.run(repo, "ls-tree", "-r", "-z", "--name-only", "HEAD")
    names = [n for n in ls.stdout.decode("utf-8", "replace").split("\0") if n and _interesting(n)]
    names = [n for n in names if not excluded(n, DEFAULT_EXCLUDES)]
    if names:
        batch = gitcmd.run(repo, "cat-file", "--batch",
                           input="".join(f"HEAD:{n}\n" for n in names).encode()).stdout
        pos = 0
        for n in names:
            header_end = batch.index(b"\n", pos)
            header = batch[pos:header_end].split()
            pos = header_end + 1
            if len(header) < 3 or header[1] != b"blob":
                continue
            size = int(header[2])
            data = batch[pos:pos + size]
            pos += size + 1
            if size <= MAX_CONFIG_BYTES and b"\0" not in data[:8192]:
                out[n] = data.decode("utf-8", "replace")
    if (repo / ".git").exists():
        other = gitcmd.run(repo, "--work-tree", str(repo.resolve()), "ls-files", "-o", "-z",
                           "--exclude-standard").stdout.decode("utf-8", "replace")
        for n in other.split("\0"):
            if n and _interesting(n) and not excluded(n, DEFAULT_EXCLUDES):
                text = _read(repo / n)
                if text is not None:
                    out[n] = text
    return out


def _read(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return None if b"\0" in data[:8192] else data.decode("utf-8", "replace")


def _dir_files(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not excluded(rel_dir + d, DEFAULT_EXCLUDES)
                             and not is_git_repo(base / d))
        for name in filenames:
            rel = rel_dir + name
            if _interesting(rel) and not excluded(rel, DEFAULT_EXCLUDES):
                text = _read(base / name)
                if text is not None:
                    out[rel] = text
    return out


def _parse_container(col: Collected, container: str, files: dict[str, str]) -> None:
    for path, text in files.items():
        col.texts[(container, path)] = text
        kind = configs.config_kind(path)
        if kind:
            col.seen.add(WorkflowRef(kind, container, path).node)
        try:
            parsed = _parse_one(col, container, path, text, kind, files)
        except (AttributeError, TypeError, ValueError):  # a shape no parser expected
            parsed = [WorkflowFile(WorkflowRef(kind or "file", container, path), error="unexpected structure",
                                   root=False)]
        for wf in parsed:
            col.files[wf.ref.node] = wf
            if wf.error:
                col.errors.append(f"{container}:{path}: {wf.error}")
            col.named += [NamedCopy(container, r.file or path, r.line, r.target) for r in wf.refs
                          if r.kind == "literal" and r.line]


def _parse_one(col: Collected, container: str, path: str, text: str, kind: str | None,
               files: dict[str, str]) -> list[WorkflowFile]:
    parsed: list[WorkflowFile] = []
    if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")):
        parsed = [parse_github(text, WorkflowRef("github", container, path))]
    elif PurePosixPath(path).name in ("action.yml", "action.yaml"):
        parsed = [parse_github(text, WorkflowRef("github", container, path))]
    elif path == ".gitlab-ci.yml":
        parsed = [parse_gitlab(text, WorkflowRef("gitlab", container, path))]
    elif kind == "mcp":
        parsed = configs.parse_mcp(text, container, path)
    elif kind == "langgraph":
        parsed = [configs.parse_langgraph(text, container, path, files)]
    elif kind in ("crewai", "n8n"):
        named = configs.parse_named_file(kind, text, container, path)
        parsed = [named] if named else []
    elif kind == "compose":
        parsed = configs.parse_compose(text, container, path, files)
    elif kind == "code":
        code = configs.parse_code(text, container, path)
        parsed = [code] if code else []
    elif kind == "dotenv":
        col.named += [NamedCopy(container, path, ln, n) for ln, n in configs.dotenv_names(text, path)]
    return parsed


def _blobs(repo: Path, specs: list[str]) -> list[bytes | None]:
    """Contents of `rev:path` specs read from the repository's objects (None: not there). Specs
    go through stdin (`cat-file --batch`), never as arguments."""
    if any("\n" in sp or "\0" in sp for sp in specs):
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
        out.append(data[pos:pos + size] if size <= MAX_CONFIG_BYTES else None)
        pos += size + 1
    return out


def _pinned(col: Collected, target: WorkflowRef) -> WorkflowRef | None:
    """A call pinned to a ref: the unpinned node when the file there is the HEAD version, the
    pinned node after parsing the file at that ref, or None (recorded in `missing`)."""
    repo = col.git_dirs.get(target.repo)
    if repo is None:
        col.missing[target.node] = (f"pinned to {target.at}, but {target.repo} is not a scanned git repository: "
                                    "the file at that ref is not available")
        return None
    head, pinned = _blobs(repo, [f"HEAD:{target.path}", f"{target.at}:{target.path}"])
    if pinned is None:
        col.missing[target.node] = f"pinned ref {target.at} not available in {target.repo} (no {target.path} there)"
        return None
    if pinned == head and dataclasses.replace(target, at="").node in col.files:
        return dataclasses.replace(target, at="")
    if target.node not in col.files:
        text = pinned.decode("utf-8", "replace")
        wf = parse_gitlab(text, target, root=False) if target.kind == "gitlab" else parse_github(text, target)
        wf = dataclasses.replace(wf, root=False, calls=tuple(
            dataclasses.replace(c, target=dataclasses.replace(c.target, at=target.at))
            if c.target.repo == target.repo and not c.target.at else c for c in wf.calls))
        col.files[target.node] = wf
    return target


def _follow_includes(col: Collected) -> None:
    """Parse GitLab files that an evaluated pipeline includes or triggers, in any repository, and
    read every file a call pins to a ref at that ref (its `./` calls and local includes too)."""
    todo = list(col.files)
    while todo:
        wf = col.files.get(todo.pop())
        if wf is None:
            continue
        calls: list[Call] = []
        for c in wf.calls:
            t = c.target
            if t.at and t.node not in col.files and t.node not in col.missing:
                found = _pinned(col, t)
                if found is not None:
                    todo.append(found.node)
                    c = dataclasses.replace(c, target=found)
            elif t.kind == "gitlab" and not t.at and t.node not in col.files and (t.repo, t.path) in col.texts:
                col.files[t.node] = parse_gitlab(col.texts[(t.repo, t.path)], t, root=False)
                todo.append(t.node)
            calls.append(c)
        if tuple(calls) != wf.calls:
            col.files[wf.ref.node] = dataclasses.replace(wf, calls=tuple(calls))


def add_facts(col: Collected, facts: Iterable[Any]) -> None:
    """What forge sources declared (`ScanResult.facts`): workflow and CI files read through the
    API, and secret / variable names whose values cannot be read."""
    for f in facts:
        kind, scope, name = getattr(f, "kind", ""), getattr(f, "scope", ""), getattr(f, "name", "")
        env = getattr(f, "environment", "") or ""
        if kind == "workflow" and f.content:
            ref = WorkflowRef("github", scope, name)
            if ref.node not in col.files:
                _parse_container(col, scope, {name: f.content})
        elif kind == "ci-config" and f.content:
            col.texts[(scope, name)] = f.content
            if name == ".gitlab-ci.yml" and WorkflowRef("gitlab", scope, name).node not in col.files:
                _parse_container(col, scope, {name: f.content})
        elif kind == "actions-secret":
            col.stored_names.add((f"org:{scope}" if getattr(f, "level", "") == "org" else scope, name, env))
        elif kind == "ci-variable":
            col.stored_names.add((scope, name, "" if env == "*" else env))
    _follow_includes(col)


def collect(targets: list[str]) -> Collected:
    """Everything the graph reads from the scanned places (targets as given to the scan)."""
    col = Collected()
    for target in targets:
        scheme, sep, rest = target.partition(":")
        path = Path(rest if sep and scheme in ("git", "dir") else target)
        if not path.exists():
            continue
        if path.is_dir() and is_git_repo(path):
            col.git_dirs[repo_name(path)] = path
            _parse_container(col, repo_name(path), _head_files(path))
        elif path.is_dir():
            _parse_container(col, str(path), _dir_files(path))
            for dirpath, dirnames, _ in os.walk(path):
                for d in list(dirnames):
                    sub = Path(dirpath) / d
                    if excluded(d, DEFAULT_EXCLUDES):
                        dirnames.remove(d)
                    elif is_git_repo(sub):
                        dirnames.remove(d)
                        col.git_dirs[repo_name(sub)] = sub
                        _parse_container(col, repo_name(sub), _head_files(sub))
        elif path.is_file():
            text = _read(path)
            if text is not None:
                _parse_container(col, "", {path.name: text})
    _follow_includes(col)
    return col
