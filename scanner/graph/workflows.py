"""Graph input: CI workflows. Takes the text of a GitHub Actions workflow (or composite action) or
a GitLab CI file and gives a `WorkflowFile`: the secret names it references (`Ref`), the
workflows it calls (`Call`, with the call's secret mapping or inherit flag) and the names it
defines itself (never unresolved). Pure parsing: no file system, no resolution."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import regex
import yaml

from scanner.graph.inventory import WorkflowRef
from scanner.parsing import TooComplex, yaml_load


@dataclass(frozen=True, slots=True)
class Ref:
    """A name that points at a secret without holding it."""

    name: str
    """The secret / variable / env var name."""
    kind: str
    """`secret` (GitHub), `var` (GitLab), `env`, `input` (MCP prompt), `vault` (GitLab vault
    secret), `literal` (a value written in place: a copy, located by `line`), `n8n`."""
    job: str = ""
    """Job (or MCP server) it appears in."""
    environment: str = ""
    """Deployment environment of that job."""
    target: str = ""
    """`vault`: `mount/path#key`; `literal`/`env` in an MCP server: the env key it is passed as."""
    line: int | None = None
    """1-based line, where known (literal values)."""
    yaml: bool = False
    """GitLab: the pipeline YAML defines this name for the job too; a project / group variable of
    the same name still wins (GitLab's precedence), else the YAML value (a literal) is used."""
    file: str = ""
    """`literal`: the file the value sits in, when not the config itself (`env_file`, `.env`)."""


@dataclass(frozen=True, slots=True)
class Call:
    """One workflow calling another, and what it passes."""

    target: WorkflowRef
    """The callee."""
    how: str
    """`reusable`, `composite`, `action` (a step's `owner/repo[/dir]@ref`), `include`,
    `trigger-child`, `trigger-project`."""
    inherit: bool
    """The callee sees the caller's whole secret scope."""
    mapping: tuple[tuple[str, str | None], ...] = ()
    """Callee name → caller secret name it is bound to (None: a literal, not a secret)."""
    job: str = ""
    environment: str = ""


@dataclass(frozen=True, slots=True)
class WorkflowFile:
    """A parsed workflow or config entry."""

    ref: WorkflowRef
    refs: tuple[Ref, ...] = ()
    calls: tuple[Call, ...] = ()
    defined: frozenset[str] = frozenset()
    """Names the file defines (YAML variables, `id_tokens`, `secrets:` entries): never unresolved."""
    root: bool = True
    """Runs on its own triggers (False: only when called or included)."""
    error: str | None = None
    """Why it could not be parsed (then it has no refs)."""
    yaml_globals: frozenset[str] = frozenset()
    """GitLab: top-level YAML variable names (files it includes see them too)."""


GITHUB_SECRET = regex.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")
EXPRESSION = regex.compile(r"\$\{\{(.*?)\}\}", regex.S)
GITLAB_VAR = regex.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
PLATFORM_SECRETS = frozenset({"GITHUB_TOKEN"})


def _predefined() -> frozenset[str]:
    text = resources.files("scanner.graph").joinpath("data/gitlab_predefined.txt").read_text(encoding="utf-8")
    return frozenset(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


GITLAB_PREDEFINED = _predefined() | {"HOME", "PATH", "PWD", "USER", "SHELL", "HOSTNAME"}
"""GitLab's documented predefined variables (data/gitlab_predefined.txt) and the runner shell's
own environment; any other name, `CI_*` and `GITLAB_*` included, is a user-defined variable."""
MATRIX_ENV = regex.compile(r"^\s*\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}\s*$")
INPUT_ENV = regex.compile(r"^\s*\$\{\{\s*(?:github\.event\.)?inputs\.([A-Za-z0-9_-]+)\s*\}\}\s*$")
GITLAB_KEYWORDS = frozenset({"stages", "variables", "include", "default", "workflow", "image", "services",
                             "before_script", "after_script", "cache", "spec", "types", "pages"})


def strings(node: Any, skip: frozenset[Any] = frozenset()) -> Iterator[str]:
    """Every string value (and key) in a YAML tree, except under keys in `skip`."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if k in skip:
                continue
            if isinstance(k, str):
                yield k
            yield from strings(v, skip)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v, skip)


DYNAMIC_SECRETS = regex.compile(r"\bsecrets\s*\[\s*(?!['\"])([^\]]*)\]|toJSON\(\s*secrets\s*\)")


def github_secret_names(text: str) -> list[str]:
    """Names read through `secrets.X` / `secrets['X']`; a dynamic read (`secrets[matrix.k]`,
    `toJSON(secrets)`) gives a name no store can bind, so it is reported as unresolved."""
    out = []
    for expr in EXPRESSION.findall(text):
        out += [a or b for a, b in GITHUB_SECRET.findall(expr)]
        out += [f"secrets[{m.group(1).strip()}]" if m.group(1) is not None else "toJSON(secrets)"
                for m in DYNAMIC_SECRETS.finditer(expr)]
    return out


def _environments(job: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The deployment environments a job can run in. A literal name is itself; an expression
    (`${{ matrix.env }}`, `${{ inputs.target }}`) is every value the matrix lists or the input's
    `options` allow; when those are not known, the expression itself (which nothing binds)."""
    env = job.get("environment")
    if isinstance(env, dict):
        env = env.get("name")
    if not isinstance(env, str):
        return [""]
    if "${{" not in env:
        return [env]
    values: list[Any] = []
    if (m := MATRIX_ENV.match(env)):
        strategy = job.get("strategy")
        matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
        if isinstance(matrix, dict):
            v = matrix.get(m.group(1))
            values = v if isinstance(v, list) else [None]
            for extra in matrix.get("include") or []:
                if isinstance(extra, dict) and m.group(1) in extra:
                    values.append(extra[m.group(1)])
    elif (m := INPUT_ENV.match(env)):
        on = doc["on"] if "on" in doc else doc.get(True)  # type: ignore[call-overload]
        for trigger in ("workflow_dispatch", "workflow_call"):
            spec = on.get(trigger) if isinstance(on, dict) else None
            inp = ((spec or {}).get("inputs") or {}).get(m.group(1)) if isinstance(spec, dict) else None
            if isinstance(inp, dict) and isinstance(inp.get("options"), list):
                values += inp["options"]
            elif inp is not None:
                values.append(None)
    if values and all(isinstance(v, (str, int)) and "${{" not in str(v) for v in values):
        return list(dict.fromkeys(str(v) for v in values))
    return [env.strip()]


def _github_target(uses: str, repo: str) -> WorkflowRef | None:
    uses = uses.strip()
    if uses.startswith("./"):
        return WorkflowRef("github", repo, uses[2:])
    if uses.startswith("docker://") or "/" not in uses:
        return None
    spec, _, at = uses.partition("@")
    parts = spec.split("/")
    if len(parts) < 3:
        return None  # an action repository: not something we read
    return WorkflowRef("github", "/".join(parts[:2]), "/".join(parts[2:]), at=at.strip())


def _action(uses: str) -> WorkflowRef | None:
    """A step's `owner/repo[/dir]@ref`: the `action.yml` at that ref (followed only when that
    repository was scanned: `collect`)."""
    spec, sep, at = uses.strip().partition("@")
    parts = spec.split("/")
    if not sep or not at.strip() or uses.startswith("docker://") or len(parts) < 2 or not all(parts):
        return None
    return WorkflowRef("github", "/".join(parts[:2]), "/".join([*parts[2:], "action.yml"]), at=at.strip())


class _CILoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loading plus GitLab's `!reference [job, key]` tag (kept as its list); libyaml's
    parser when PyYAML has it (`check_yaml` already reads every file with it; the pure-Python
    one took 0.1 s for a repository's nine workflows, in the scan's serial tail)."""


_CILoader.add_constructor("!reference", lambda loader, node: loader.construct_sequence(node))  # type: ignore[arg-type]


def _load(text: str) -> tuple[Any, str | None]:
    try:
        return yaml_load(text, _CILoader), None
    except TooComplex as exc:
        return None, str(exc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, f"not valid YAML{f' (line {mark.line + 1})' if mark else ''}"


def parse_github(text: str, ref: WorkflowRef) -> WorkflowFile:
    """A GitHub Actions workflow or a composite action (`action.yml`)."""
    try:
        return _parse_github(text, ref)
    except (AttributeError, TypeError, ValueError):
        return WorkflowFile(ref, error="unexpected structure")


def _parse_github(text: str, ref: WorkflowRef) -> WorkflowFile:
    doc, err = _load(text)
    if err or not isinstance(doc, dict):
        return WorkflowFile(ref, error=err or "not a workflow mapping")
    refs: list[Ref] = []
    calls: list[Call] = []
    on = doc.get("on", doc.get(True))
    triggers = set(on) if isinstance(on, (dict, list)) else {on} if isinstance(on, str) else set()
    root = not (triggers and triggers <= {"workflow_call"}) and "runs" not in doc
    top: frozenset[Any] = frozenset({"jobs", "on", True})
    for s in strings(doc, top):
        refs += [Ref(n, "secret") for n in github_secret_names(s)]
    jobs: dict[str, Any] = doc["jobs"] if isinstance(doc.get("jobs"), dict) else {}
    steps_sets: list[tuple[str, list[str], Any]] = [(jid, _environments(j, doc), j) for jid, j in jobs.items()
                                                    if isinstance(j, dict)]
    runs = doc.get("runs")
    if isinstance(runs, dict):  # composite action
        steps_sets.append(("", [""], runs))
    for jid, envs, job in steps_sets:
        env = envs[0]
        uses = job.get("uses") if jid else None
        skip = frozenset({"secrets"}) if isinstance(uses, str) else frozenset()
        for s in strings(job, skip):
            refs += [Ref(n, "secret", jid, e) for n in github_secret_names(s) for e in envs]
        if isinstance(uses, str) and (target := _github_target(uses, ref.repo)):
            sec = job.get("secrets")
            mapping: list[tuple[str, str | None]] = []
            if isinstance(sec, dict):
                for k, v in sec.items():  # `secrets.A || secrets.B`: either may supply the value
                    names = [n for n in github_secret_names(str(v)) if n not in PLATFORM_SECRETS]
                    mapping += [(str(k), n) for n in dict.fromkeys(names)] or [(str(k), None)]
            calls.append(Call(target, "reusable", sec == "inherit", tuple(mapping), jid, env))
        for step in job.get("steps") or []:
            if isinstance(step, dict) and isinstance(step.get("uses"), str) and step["uses"].startswith("./"):
                path = step["uses"][2:].rstrip("/")
                if not path.endswith((".yml", ".yaml")):
                    path += "/action.yml"
                calls.append(Call(WorkflowRef("github", ref.repo, path), "composite", False, (), jid, env))
            elif isinstance(step, dict) and isinstance(step.get("uses"), str) and (act := _action(step["uses"])):
                calls.append(Call(act, "action", False, (), jid, env))
    refs = [r for r in refs if r.name not in PLATFORM_SECRETS]
    return WorkflowFile(ref, tuple(dict.fromkeys(refs)), tuple(calls), PLATFORM_SECRETS, root)


def gitlab_var_names(text: str) -> list[str]:
    return [a or b for a, b in GITLAB_VAR.findall(text)]


def is_predefined(name: str) -> bool:
    return name in GITLAB_PREDEFINED


def _vault_target(spec: Any) -> str | None:
    """GitLab `secrets:<NAME>:vault`: `path/field@mount` (mount defaults to `kv-v2`) or the long form."""
    if isinstance(spec, str):
        body, _, mount = spec.partition("@")
        path, _, field = body.rpartition("/")
        return f"{mount or 'kv-v2'}/{path}#{field}" if path and field else None
    if isinstance(spec, dict):
        engine = spec.get("engine") or {}
        mount = engine.get("path", "kv-v2") if isinstance(engine, dict) else "kv-v2"
        if spec.get("path") and spec.get("field"):
            return f"{mount}/{spec['path']}#{spec['field']}"
    return None


def _includes(value: Any, repo: str) -> list[WorkflowRef]:
    """What an `include:` names. Only local and project files are read; a remote URL, a CI/CD
    component, a GitLab template or an unknown kind gets a pseudo-repository (`remote`,
    `component`, `gitlab-templates`, `include`) that evaluation reports as not followed."""
    items = value if isinstance(value, list) else [value]
    out = []
    for it in items:
        if isinstance(it, str):
            if it.startswith(("http://", "https://")):
                out.append(WorkflowRef("gitlab", "remote", it))
            else:
                out.append(WorkflowRef("gitlab", repo, it.lstrip("/")))
        elif isinstance(it, dict) and "remote" in it:  # read from a URL we do not fetch: reported
            out.append(WorkflowRef("gitlab", "remote", str(it["remote"])))
        elif isinstance(it, dict) and "local" in it:
            out.append(WorkflowRef("gitlab", repo, str(it["local"]).lstrip("/")))
        elif isinstance(it, dict) and "project" in it:
            files = it.get("file") or []
            at = str(it["ref"]) if it.get("ref") is not None else ""
            for f in files if isinstance(files, list) else [files]:
                out.append(WorkflowRef("gitlab", str(it["project"]), str(f).lstrip("/"), at=at))
        elif isinstance(it, dict) and "component" in it:
            out.append(WorkflowRef("gitlab", "component", str(it["component"])))
        elif isinstance(it, dict) and "template" in it:
            out.append(WorkflowRef("gitlab", "gitlab-templates", str(it["template"])))
        else:
            out.append(WorkflowRef("gitlab", "include", str(it)))
    return out


def _yaml_vars(node: Any) -> dict[str, str]:
    if not isinstance(node, dict):
        return {}
    return {str(k): str(v.get("value", "") if isinstance(v, dict) else v) for k, v in node.items()}


def parse_gitlab(text: str, ref: WorkflowRef, root: bool = True) -> WorkflowFile:
    """A `.gitlab-ci.yml` or an included file."""
    try:
        return _parse_gitlab(text, ref, root)
    except (AttributeError, TypeError, ValueError):
        return WorkflowFile(ref, error="unexpected structure", root=root)


def _inherited(job: dict[str, Any], global_vars: dict[str, str]) -> dict[str, str]:
    """The top-level YAML variables a job sees (`inherit: variables: false | [names]`)."""
    inherit = job.get("inherit")
    wanted = inherit.get("variables", True) if isinstance(inherit, dict) else True
    if wanted is False:
        return {}
    if isinstance(wanted, list):
        return {k: v for k, v in global_vars.items() if k in wanted}
    return global_vars


def _parse_gitlab(text: str, ref: WorkflowRef, root: bool) -> WorkflowFile:
    """Each job is read in its own variable scope: its `variables:` plus the top-level ones it
    inherits are YAML-defined for it (a project / group variable of the same name still wins, so
    the reference is kept with `yaml=True`); `secrets:` and `id_tokens:` names are bound by the
    job itself."""
    doc, err = _load(text)
    if err or not isinstance(doc, dict):
        return WorkflowFile(ref, error=err or "not a pipeline mapping", root=root)
    refs: list[Ref] = []
    calls: list[Call] = []
    global_vars = _yaml_vars(doc.get("variables"))
    bound: set[str] = set()
    for v in global_vars.values():
        refs += [Ref(n, "var", yaml=n in global_vars) for n in gitlab_var_names(v)]
    if "include" in doc:
        calls += [Call(t, "include", True) for t in _includes(doc["include"], ref.repo)]
    for s in strings(doc.get("default"), frozenset({"variables"})):
        refs += [Ref(n, "var", yaml=n in global_vars) for n in gitlab_var_names(s)]
    for jid, job in doc.items():
        if not isinstance(jid, str) or jid in GITLAB_KEYWORDS or not isinstance(job, dict):
            continue
        env = job.get("environment")
        env = env.get("name", "") if isinstance(env, dict) else env if isinstance(env, str) else ""
        job_vars = _yaml_vars(job.get("variables"))
        yaml_here = {**_inherited(job, global_vars), **job_vars}
        own = {str(k) for k in (job.get("id_tokens") or {})}
        for name, spec in (job.get("secrets") or {}).items():
            own.add(str(name))
            target = _vault_target(spec.get("vault")) if isinstance(spec, dict) else None
            if target:
                refs.append(Ref(str(name), "vault", jid, str(env), target))
        bound |= own
        for s in strings(job, frozenset({"secrets", "trigger", "id_tokens"})):
            refs += [Ref(n, "var", jid, str(env), yaml=n in yaml_here) for n in gitlab_var_names(s)
                     if n not in own]
        trig = job.get("trigger")
        if trig is None:
            continue
        if isinstance(trig, str):
            trig = {"project": trig}
        if not isinstance(trig, dict):
            continue
        forward: dict[str, Any] = trig["forward"] if isinstance(trig.get("forward"), dict) else {}
        fwd = yaml_here if forward.get("yaml_variables", True) else {}
        mapping = tuple((k, next(iter(gitlab_var_names(v)), None)) for k, v in fwd.items())
        if "project" in trig:
            at = str(trig["branch"]) if trig.get("branch") is not None else ""
            calls.append(Call(WorkflowRef("gitlab", str(trig["project"]), ".gitlab-ci.yml", at=at),
                              "trigger-project", False, mapping, jid, str(env)))
        elif "include" in trig:
            calls += [Call(t, "trigger-child", True, mapping, jid, str(env))
                      for t in _includes(trig["include"], ref.repo)]
    refs = [r for r in refs if r.kind == "vault" or not is_predefined(r.name)]
    return WorkflowFile(ref, tuple(dict.fromkeys(refs)), tuple(calls), frozenset(bound), root,
                        yaml_globals=frozenset(global_vars))
