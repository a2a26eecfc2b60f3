"""Graph stage: binding names to stored values. Takes the scan's credentials, the collected named
copies and the inventory, and answers "which credential does NAME mean here?" for a `Scope`.
Order: stored values by scope (GitHub environment > repo > org; GitLab project > parent groups),
the inventory's declared mapping (CI secret name / env var ↔ vault path), then an exact name
match with a vault key (only when it names one value). Every `Binding` says how it was made.

A `Scope` is where a workflow is evaluated: the caller's repository for a reusable workflow,
narrowed to an explicit `secrets:` map (only mapped names are visible), or a downstream project
with forwarded variables. `evaluate` walks a workflow and everything it calls, per call."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from scanner.graph.collect import Collected
from scanner.graph.inventory import Agent, CredentialRef, Inventory
from scanner.graph.workflows import Call, Ref, WorkflowFile
from scanner.model import Credential

MAX_DEPTH = 16
"""Nested calls followed at most (GitHub allows 10 levels of reusable workflows)."""
CI_STORE_SOURCES = ("github-secret", "github-variable", "gitlab-variable", "ci-variable")
NOT_EVALUATED_REPOS = ("gitlab-templates",)


@dataclass(frozen=True, slots=True)
class Binding:
    fingerprint: str
    """SHA-256 of the bound value; empty when the name is known to exist but cannot be bound."""
    how: str
    via: tuple[str, ...] = ()
    """Reference nodes walked between the first reference and the credential (call mappings)."""


@dataclass(frozen=True, slots=True)
class Forward:
    """A name passed by a call: bound to the caller's `name` in the caller's scope."""

    name: str
    scope: Scope
    node: str
    environment: str = ""


@dataclass(frozen=True, slots=True)
class Scope:
    platform: str
    """`github`, `gitlab` or `local` (configs, code)."""
    repo: str
    agent: str = ""
    """The agent that runs it, when known (prefers that agent's env declarations)."""
    store: bool = True
    """The repository's own stored secrets are visible (False under an explicit `secrets:` map)."""
    overrides: tuple[tuple[str, Forward | None], ...] = ()
    """Names bound by the call (None: a literal, not a secret)."""


@dataclass(frozen=True, slots=True)
class Reach:
    """One walked path from a start node to a credential (or to a name nothing binds)."""

    fingerprint: str | None
    path: tuple[str, ...]
    how: str
    name: str = ""
    scope: str = ""
    referenced_by: str = ""


def _key(path: str) -> str:
    return path.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class Resolver:
    def __init__(self, credentials: tuple[Credential, ...], collected: Collected, inventory: Inventory) -> None:
        self.vault: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.vault_key: dict[str, set[str]] = defaultdict(set)
        self.store: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.located: dict[tuple[str, str, int], set[str]] = defaultdict(set)
        for c in credentials:
            for loc in c.locations:
                if loc.source == "vault" and loc.state == "live":
                    self.vault[(loc.container, loc.path)].add(c.fingerprint)
                    self.vault_key[_key(loc.path)].add(c.fingerprint)
                elif loc.source in CI_STORE_SOURCES:
                    name, _, env = loc.path.rsplit("/", 1)[-1].partition("@")
                    self.store[(loc.container, name, "" if env == "*" else env)].add(c.fingerprint)
                elif loc.state == "live" and loc.line:
                    self.located[(loc.container, loc.path, loc.line)].add(c.fingerprint)
        self.named: dict[tuple[str, str], set[str]] = defaultdict(set)
        for n in collected.named:
            self.named[(n.container, n.name)] |= self.located.get((n.container, n.path, n.line), set())
        self.inventory = inventory
        self.files = collected.files
        self.stored_names = collected.stored_names
        self.declared: dict[tuple[str, str], tuple[set[str], str]] = {}
        self.repos: dict[str, set[str]] = {}
        for a in inventory.agents:
            self.repos[a.name] = {w.repo for w in a.workflows} | {c.scope for cr in a.credentials for c in cr.ci}
        for a in inventory.agents:
            for cr in a.credentials:
                self.declared[(a.name, cr.id)] = self._declaration(a, cr)

    def _declaration(self, agent: Agent, cr: CredentialRef) -> tuple[set[str], str]:
        if cr.vault:
            fps = self.vault.get((cr.vault.mount, cr.vault.location_path), set())
            if fps:
                return set(fps), f"inventory vault {cr.vault}"
        for ci in cr.ci:
            fps = self.store.get((ci.scope, ci.name, ci.environment), set())
            if fps:
                return set(fps), f"inventory ci {ci.platform}:{ci.scope}:{ci.name}"
        for name in cr.env:
            fps = set().union(*(self.named.get((repo, name), set()) for repo in self.repos[agent.name]))
            if fps:
                return fps, f"inventory env {name} (named copy)"
        for name in cr.env:  # anywhere, when the name stores exactly one value
            fps = set().union(*(v for (_, n), v in self.named.items() if n == name))
            if len(fps) == 1:
                return fps, f"inventory env {name} (the only named copy)"
        return set(), ""

    # -- scope chains ---------------------------------------------------------------------------
    def _chain(self, platform: str, repo: str, env: str) -> list[tuple[str, str, str]]:
        """(level label, scope, environment) from the narrowest to the widest."""
        if platform == "github":
            owner = repo.split("/", 1)[0]
            levels = [("environment", repo, env)] if env else []
            return levels + [("repo", repo, ""), ("org", f"org:{owner}", "")]
        parts = repo.split("/")
        levels = [("project-env", repo, env)] if env else []
        levels.append(("project", repo, ""))
        levels += [("group", "/".join(parts[:i]), "") for i in range(len(parts) - 1, 0, -1)]
        return levels

    def _inventory_ci(self, platform: str, scope: str, name: str, env: str) -> set[str]:
        out: set[str] = set()
        for a in self.inventory.agents:
            for cr in a.credentials:
                if any(c.platform == platform and c.scope == scope and c.name == name and c.environment == env
                       for c in cr.ci):
                    out |= self.declared[(a.name, cr.id)][0]
        return out

    def _vault_name(self, name: str) -> list[Binding]:
        fps = self.vault_key.get(name, set())
        return [Binding(next(iter(fps)), f"vault key name {name}")] if len(fps) == 1 else []

    def _stored(self, platform: str, repo: str, name: str, env: str) -> list[Binding]:
        for level, scope, e in self._chain(platform, repo, env):
            store_scope = scope.removeprefix("org:")
            fps = self.store.get((store_scope, name, e), set()) | self.store.get((scope, name, e), set())
            if fps:
                return [Binding(fp, f"{platform} {level} secret {scope}:{name}") for fp in sorted(fps)]
            fps = self._inventory_ci(platform, scope, name, e)
            if fps:
                return [Binding(fp, f"inventory mapping {platform}:{scope}:{name}") for fp in sorted(fps)]
            if (scope, name, e) in self.stored_names:  # it exists here and shadows wider scopes
                return [Binding("", f"{platform} {level} secret {scope}:{name} exists but its value "
                                    "is not readable and no inventory entry maps it")]
        return self._vault_name(name)

    def _declared_env(self, agent: str, name: str) -> list[Binding]:
        a = self.inventory.agent(agent)
        for cr in a.credentials if a else ():
            if name in cr.env and self.declared[(agent, cr.id)][0]:
                return [Binding(fp, f"inventory env {agent}:{cr.id}") for fp in sorted(self.declared[(agent, cr.id)][0])]
        return []

    def _env(self, name: str, scope: Scope) -> list[Binding]:
        """The running agent's declaration, a named copy in the same place, an agent tied to the
        repository, then a vault key of that name."""
        if scope.agent and (found := self._declared_env(scope.agent, name)):
            return found
        fps = self.named.get((scope.repo, name), set())
        if fps:
            return [Binding(fp, f"named copy {name} in {scope.repo}") for fp in sorted(fps)]
        for agent in sorted(a for a, repos in self.repos.items() if scope.repo in repos):
            if found := self._declared_env(agent, name):
                return found
        return self._vault_name(name)

    def bind(self, ref: Ref, scope: Scope, file: WorkflowFile) -> list[Binding] | None:
        """Bindings of `ref` in `scope`; [] when nothing binds it, None when it is not a secret."""
        if ref.kind == "vault":
            mount, _, rest = ref.target.partition("/")
            fps = self.vault.get((mount, rest), set())
            return [Binding(fp, f"vault path {ref.target}") for fp in sorted(fps)]
        if ref.kind == "literal":
            fps = self.located.get((file.ref.repo, file.ref.path, ref.line or 0), set())
            return [Binding(fp, f"literal value at {file.ref.path}:{ref.line}") for fp in sorted(fps)]
        if ref.kind in ("env", "input"):
            return self._env(ref.name, scope)
        if ref.kind == "n8n":
            return self._vault_name(ref.name)
        return self.bind_name(ref.name, scope, ref.environment)

    def bind_name(self, name: str, scope: Scope, env: str = "") -> list[Binding] | None:
        overrides = dict(scope.overrides)
        if name in overrides:
            fwd = overrides[name]
            if fwd is None:
                return None
            inner = self.bind_name(fwd.name, fwd.scope, fwd.environment)
            return None if inner is None else [Binding(b.fingerprint, b.how, (fwd.node, *b.via)) for b in inner]
        if not scope.store:
            return []
        return self._stored(scope.platform, scope.repo, name, env)


def ref_node(wf_node: str, name: str) -> str:
    return f"reference:{wf_node.removeprefix('workflow:')}#{name}"


def call_scope(call_scope_from: Scope, call: Call, caller_node: str) -> Scope:
    """The scope a callee is evaluated in: the caller's (inherit), only the mapped names (an
    explicit map), or the downstream project's own plus forwarded variables (GitLab trigger)."""
    fwd = tuple((callee, Forward(src, call_scope_from, ref_node(caller_node, src), call.environment)
                 if src else None) for callee, src in call.mapping)
    if call.how == "trigger-project":
        return Scope("gitlab", call.target.repo, "", True, fwd)
    if call.inherit:
        return Scope(call_scope_from.platform, call_scope_from.repo, call_scope_from.agent,
                     call_scope_from.store, fwd + call_scope_from.overrides)
    return Scope(call_scope_from.platform, call_scope_from.repo, call_scope_from.agent, False, fwd)


def evaluate(res: Resolver, wf_node: str, scope: Scope, prefix: tuple[str, ...] = (),
             stack: frozenset[str] = frozenset()) -> list[Reach]:
    """Every credential (or unbound name) `wf_node` reaches in `scope`, through its calls."""
    wf = res.files.get(wf_node)
    here = (*prefix, wf_node)
    if len(stack) >= MAX_DEPTH:
        return [Reach(None, here, f"calls nested deeper than {MAX_DEPTH} levels: not followed", wf_node,
                      scope.repo, prefix[-1] if prefix else wf_node)]
    if wf is None:
        repo = wf_node.split(":", 3)[2] if wf_node.count(":") >= 3 else ""
        if repo in NOT_EVALUATED_REPOS:
            return []
        return [Reach(None, here, "workflow not found in the scanned sources", wf_node, scope.repo,
                      prefix[-1] if prefix else wf_node)]
    if wf.error:
        return [Reach(None, here, f"cannot be read: {wf.error}", wf_node, scope.repo,
                      prefix[-1] if prefix else wf_node)]
    out: list[Reach] = []
    for ref in wf.refs:
        if ref.name in wf.defined and ref.kind not in ("vault", "literal"):
            continue
        bindings = res.bind(ref, scope, wf)
        node = ref_node(wf_node, ref.name)
        if bindings is None:
            continue
        if not bindings:
            out.append(Reach(None, (*here, node), "unresolved", ref.name,
                             f"{scope.platform}:{scope.repo}" + (f"@{ref.environment}" if ref.environment else ""),
                             wf_node))
        for b in bindings:
            if not b.fingerprint:
                out.append(Reach(None, (*here, node, *b.via), b.how, ref.name, f"{scope.platform}:{scope.repo}", wf_node))
                continue
            out.append(Reach(b.fingerprint, (*here, node, *b.via, f"credential:{b.fingerprint}"), b.how))
    for call in wf.calls:
        if call.target.node in stack or call.target.node == wf_node:
            continue
        inner = call_scope(scope, call, wf_node)
        if call.how in ("include", "trigger-child"):  # the including file's YAML variables stay defined
            mapped = {n for n, _ in inner.overrides}
            extra = tuple((n, None) for n in sorted(wf.defined - mapped))
            inner = Scope(inner.platform, inner.repo, inner.agent, inner.store, inner.overrides + extra)
        out += evaluate(res, call.target.node, inner, here, stack | {wf_node})
    return out
