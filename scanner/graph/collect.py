"""Graph input: the records a scan produced (`ScanResult.facts`, `InventoryFact`s), never the
filesystem, git or the network. Gives `Collected`: every parsed workflow / config entry (the
`file` records of local repositories and folders: `.github/workflows/*`, composite actions,
`.gitlab-ci.yml` and the files it includes, MCP and agent configs, compose, code; the `workflow` and
`ci-config` records forge sources read through their APIs) keyed by node id, and `NamedCopy`
lines (dotenv `NAME=` lines, MCP literal env entries) so a value found there can be named. A file
a call pins to a ref is read from its `pinned` record; `wanted` lists the pinned files a scanned
git repository could give but no record holds (the pipeline asks the sources for them). Forge
secret and variable names (values unreadable) become `stored_names`."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from scanner.graph import configs
from scanner.graph.inventory import WorkflowRef
from scanner.graph.workflows import Call, WorkflowFile, parse_github, parse_gitlab
from scanner.model import InventoryFact

Pin = tuple[str, str, str]
"""(repository, ref, path) of a file a call pins to a ref."""


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
    git_repos: set[str] = field(default_factory=set)
    """Names of the scanned local git repositories (files at a pinned ref can be read there)."""
    pins: dict[Pin, InventoryFact] = field(default_factory=dict)
    """The `pinned` records: files at the refs calls pin."""
    wanted: set[Pin] = field(default_factory=set)
    """Pinned files of scanned git repositories that no record holds."""
    missing: dict[str, str] = field(default_factory=dict)
    """Node → why a called / included file could not be read (a pinned ref not available)."""


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


def _pinned(col: Collected, target: WorkflowRef) -> WorkflowRef | None:
    """A call pinned to a ref: the unpinned node when the file there is the HEAD version, the
    pinned node after parsing the file at that ref, or None (recorded in `missing`)."""
    if target.repo not in col.git_repos:
        col.missing[target.node] = (f"pinned to {target.at}, but {target.repo} is not a scanned git repository: "
                                    "the file at that ref is not available")
        return None
    rec = col.pins.get((target.repo, target.at, target.path))
    if rec is None:
        col.wanted.add((target.repo, target.at, target.path))
        col.missing[target.node] = (f"pinned ref {target.at} of {target.repo}:{target.path} was not read "
                                    "(the scan's records do not hold it)")
        return None
    if rec.level == "missing":
        col.missing[target.node] = f"pinned ref {target.at} not available in {target.repo} (no {target.path} there)"
        if target.path == "action.yml" or target.path.endswith("/action.yml"):  # or action.yaml
            return _pinned(col, dataclasses.replace(target, path=target.path[:-3] + "yaml"))
        return None
    if rec.level == "head" and dataclasses.replace(target, at="").node in col.files:
        return dataclasses.replace(target, at="")
    if target.node not in col.files:
        text = rec.content
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
            if c.how == "action" and t.repo not in col.git_repos:
                continue  # an action from outside the scanned repositories (actions/checkout): not read
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


def collect(records: Iterable[InventoryFact]) -> Collected:
    """Everything the graph reads, from the scan's records: local files per container first (a
    compose or LangGraph file reads the dotenv files next to it), then what forge APIs gave."""
    col = Collected()
    local: dict[str, dict[str, str]] = defaultdict(dict)
    forge: list[InventoryFact] = []
    for f in records:
        if f.kind == "file":
            local[f.scope][f.name] = f.content
        elif f.kind == "git-repo":
            col.git_repos.add(f.scope)
        elif f.kind == "pinned":
            col.pins[(f.scope, f.ref, f.name)] = f
        else:
            forge.append(f)
    for container, files in local.items():
        _parse_container(col, container, files)
    for f in forge:
        kind, scope, name, env = f.kind, f.scope, f.name, f.environment
        if kind == "workflow" and f.content:
            ref = WorkflowRef("github", scope, name)
            if ref.node not in col.files:
                _parse_container(col, scope, {name: f.content})
        elif kind == "ci-config" and f.content:
            col.texts[(scope, name)] = f.content
            if name == ".gitlab-ci.yml" and WorkflowRef("gitlab", scope, name).node not in col.files:
                _parse_container(col, scope, {name: f.content})
        elif kind == "actions-secret":
            col.stored_names.add((f"org:{scope}" if f.level == "org" else scope, name, env))
        elif kind == "ci-variable":
            col.stored_names.add((scope, name, "" if env == "*" else env))
    _follow_includes(col)
    return col


def pins_wanted(records: Iterable[InventoryFact]) -> set[Pin]:
    """The pinned files the graph would read that no record holds yet (repository, ref, path).
    Only YAML files can call or include another file: code and JSON configs are not parsed."""
    return collect(r for r in records if r.kind != "file" or r.name.endswith((".yml", ".yaml"))).wanted
