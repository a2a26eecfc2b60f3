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
from dataclasses import dataclass, replace

import regex

from scanner.declared import is_secret_name
from scanner.graph.collect import Collected
from scanner.graph.inventory import Agent, CredentialRef, Inventory, WorkflowRef
from scanner.graph.workflows import Call, Ref, WorkflowFile
from scanner.model import Credential

MAX_DEPTH = 16
"""Nested calls followed at most (GitHub allows 10 levels of reusable workflows)."""
CI_STORE_SOURCES = ("github-secret", "github-variable", "gitlab-variable", "ci-variable")
NOT_FOLLOWED = {
    "remote": "remote include: not fetched, not followed",
    "component": "CI/CD component include: not followed",
    "gitlab-templates": "GitLab template include: not followed",
    "include": "include of an unknown kind: not followed",
}
"""Pseudo-repositories `workflows._includes` gives to includes it cannot read."""
COMPANION = regex.compile(r"(?i)(?:^|_)(?:ACCESS_KEY_ID|KEY_ID|ROLE_ARN|ARN|REGION|ACCOUNT_ID|CLIENT_ID|TENANT_ID|"
                          r"APP_ID|PROJECT_ID|ORG_ID|ORGANIZATION_ID)$")
"""Names kept next to a secret that are not credentials (an AWS access key id alone, a role ARN,
a region): an unbound reference to one does not block."""
PREVIEW = regex.compile(r"…\(\d+\)")
"""What redaction leaves where a rule found a value in a record's text (`model.redact`)."""
CONNECTION_URL = regex.compile(r"(?i)(?:DATABASE|DB|REDIS|MONGO(?:DB)?|POSTGRES(?:QL)?|MYSQL|AMQP|BROKER|"
                               r"RABBITMQ|CONNECTION)_UR[LI]$")
"""Names whose values usually carry a password in the URL: secret-like."""


@dataclass(frozen=True, slots=True)
class Binding:
    fingerprint: str
    """SHA-256 of the bound value; empty when the name is known to exist but cannot be bound."""
    how: str
    via: tuple[str, ...] = ()
    """Reference nodes walked between the first reference and the credential (call mappings)."""
    candidates: tuple[str, ...] = ()
    """Unbound because ambiguous: every value the name may mean."""


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
    """Names bound by the call (None: a literal, not a secret); a name may be bound several
    times (`secrets.A || secrets.B`): each is a possible value."""
    yaml: frozenset[str] = frozenset()
    """GitLab: names the including pipeline's YAML defines (a project variable still wins)."""


@dataclass(frozen=True, slots=True)
class Reach:
    """One walked path from a start node to a credential (or to a name nothing binds)."""

    fingerprint: str | None
    path: tuple[str, ...]
    how: str
    name: str = ""
    scope: str = ""
    referenced_by: str = ""
    candidates: tuple[str, ...] = ()
    """An ambiguous name: the values it may mean (each a possible consumer)."""
    blocking: bool = True
    """False for `unresolved-config`: a name nothing marks as a secret (reported, not blocking)."""


def _key(path: str) -> str:
    return path.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class Resolver:
    def __init__(self, credentials: tuple[Credential, ...], collected: Collected, inventory: Inventory) -> None:
        self.vault: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.vault_key: dict[str, set[str]] = defaultdict(set)
        self.store: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self.located: dict[tuple[str, str, int], set[str]] = defaultdict(set)
        self.written: dict[tuple[str, str], set[tuple[str, int]]] = defaultdict(set)
        """(container, path) → (fingerprint, line) of every live copy the scan found in a file."""
        self.previews: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        """(repository, path) → fingerprint → redacted preview of every copy git history holds."""
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
                if loc.state == "live" and loc.source in ("git", "file"):
                    self.written[(loc.container, loc.path)].add((c.fingerprint, loc.line or 0))
                if loc.source == "git":
                    self.previews[(loc.container, loc.path)][c.fingerprint] = c.redacted
        self.named: dict[tuple[str, str], set[str]] = defaultdict(set)
        for n in collected.named:
            self.named[(n.container, n.name)] |= self.located.get((n.container, n.path, n.line), set())
        self.inventory = inventory
        self.files = collected.files
        self.claimed: dict[tuple[str, str, int], set[str]] = defaultdict(set)
        """Lines a parsed entry reads as its own literal value → the entries (nodes) that read them."""
        for node, wf in collected.files.items():
            for r in wf.refs:
                if r.kind == "literal" and r.line:
                    self.claimed[(wf.ref.repo, r.file or wf.ref.path, r.line)].add(node)
        self.missing = collected.missing
        self.pins = collected.pins
        self.stored_names = collected.stored_names
        self.declared: dict[tuple[str, str], tuple[set[str], str]] = {}
        self.candidates: dict[tuple[str, str], set[str]] = defaultdict(set)
        """(agent, credential id) → values an ambiguous declaration may mean."""
        self.repos: dict[str, set[str]] = {}
        for a in inventory.agents:
            self.repos[a.name] = {w.repo for w in a.workflows} | {c.scope for cr in a.credentials for c in cr.ci}
        for a in inventory.agents:
            for cr in a.credentials:
                self.declared[(a.name, cr.id)] = self._declaration(a, cr)

    def _declaration(self, agent: Agent, cr: CredentialRef) -> tuple[set[str], str]:
        """Every value any of the declared sources holds (vault path, CI secrets, env names): an
        agent reaches its `.env` copy under the declared name as well as the vault one."""
        fps: set[str] = set()
        how: list[str] = []
        if cr.vault and (found := self.vault.get((cr.vault.mount, cr.vault.location_path), set())):
            fps |= found
            how.append(f"inventory vault {cr.vault}")
        for ci in cr.ci:
            if found := self.store.get((ci.scope, ci.name, ci.environment), set()):
                fps |= found
                how.append(f"inventory ci {ci.platform}:{ci.scope}:{ci.name}")
        for name in cr.env:
            found = set().union(*(self.named.get((repo, name), set()) for repo in self.repos[agent.name]))
            if found:
                fps |= found
                how.append(f"inventory env {name} (named copy)")
                continue
            anywhere = set().union(*(v for (_, n), v in self.named.items() if n == name))
            if len(anywhere) == 1:  # anywhere, when the name stores exactly one value
                fps |= anywhere
                how.append(f"inventory env {name} (the only named copy)")
            elif anywhere:
                self.candidates[(agent.name, cr.id)] |= anywhere
        return fps, "; ".join(how)

    def secret_like(self, ref: Ref) -> bool:
        """Whether an unbound reference names a secret (then it blocks): a GitHub `secrets.X`
        unless X is a known non-credential companion, a vault / n8n credential, a prompted
        password input, or a name that looks like a secret or is bound to a credential anywhere
        (a declaration, a stored copy)."""
        name = ref.name
        if ref.kind in ("vault", "n8n", "file") or name.startswith(("secrets[", "toJSON(")):
            return True
        if COMPANION.search(name):
            return False
        if ref.kind == "secret" or is_secret_name(name) or CONNECTION_URL.search(name):
            return True
        if ref.kind == "input" and ref.target == "password":
            return True
        declared = any(name in cr.env or any(c.name == name for c in cr.ci)
                       for a in self.inventory.agents for cr in a.credentials)
        return declared or bool(self.vault_key.get(name)) or any(
            n == name and fps for (_, n), fps in self.named.items()) or any(
            n == name for (_, n, _) in self.stored_names) or any(n == name and v for (_, n, _), v in self.store.items())

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
        """A vault key of that name: bound when it holds one value; ambiguous (never bound, but
        every value is a possible one) when several values sit under that key name."""
        fps = self.vault_key.get(name, set())
        if len(fps) == 1:
            return [Binding(next(iter(fps)), f"vault key name {name}")]
        if fps:
            return [Binding("", f"ambiguous: {len(fps)} different values are stored under vault key {name}",
                            candidates=tuple(sorted(fps)))]
        return []

    def _stored(self, platform: str, repo: str, name: str, env: str, yaml: bool = False) -> list[Binding]:
        """Stored secrets from the narrowest scope out, then (unless the pipeline's YAML defines
        the name, whose own value then applies) a vault key of that name."""
        if "${{" in env:
            return [Binding("", f"expression environment {env}: the environments it can name are not known")]
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
        return [] if yaml else self._vault_name(name)

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
        if ref.kind == "literal":  # a value, not a reference: a credential only if the scan found one there
            path = ref.file or file.ref.path
            fps = self.located.get((file.ref.repo, path, ref.line or 0), set())
            return [Binding(fp, f"literal value at {path}:{ref.line}") for fp in sorted(fps)] or None
        if ref.kind == "file":
            return [Binding("", f"env_file {ref.name} is not among the scanned files")]
        if ref.kind in ("env", "input"):
            return self._env(ref.name, scope)
        if ref.kind == "n8n":
            return self._vault_name(ref.name)
        yaml = ref.yaml or (scope.platform == "gitlab" and ref.name in scope.yaml)
        found = self.bind_name(ref.name, scope, ref.environment, yaml)
        return None if yaml and not found else found

    def bind_name(self, name: str, scope: Scope, env: str = "", yaml: bool = False) -> list[Binding] | None:
        forwards = [fwd for n, fwd in scope.overrides if n == name]
        if forwards:
            results = [(fwd, inner) for fwd in forwards if fwd is not None
                       and (inner := self.bind_name(fwd.name, fwd.scope, fwd.environment)) is not None]
            if not results:
                return None  # a literal
            if len(results) == 1 and not results[0][1]:
                return []
            out: list[Binding] = []
            for fwd, inner in results:
                if not inner:
                    out.append(Binding("", f"{fwd.name}, one of the names passed, is bound to nothing", (fwd.node,)))
                out += [Binding(b.fingerprint, b.how, (fwd.node, *b.via), b.candidates) for b in inner]
            return out
        if not scope.store:
            return []
        return self._stored(scope.platform, scope.repo, name, env, yaml)


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


def written_in(res: Resolver, node: str, repo: str, path: str) -> list[Reach]:
    """Values the scan found written in a file the node is read from, at lines no parsed entry
    reads as its own literal (those are bound by their `literal` references): a key hard-coded
    in code, a workflow or a config shape no parser models is still used by whoever runs it."""
    out = []
    for fp, line in sorted(res.written.get((repo, path), ())):
        if not res.claimed.get((repo, path, line)):
            out.append(Reach(fp, (node, f"credential:{fp}"), f"value written in {path}"
                             + (f":{line}" if line else "")))
    return out


def written_at_pin(res: Resolver, node: str, ref: WorkflowRef) -> list[Reach]:
    """Values written in a file read at a pinned ref: its record text shows a redacted preview
    where a rule found one; the value is the copy git history holds in that file with that
    preview (several: ambiguous, each possibly used); none (history not scanned): unresolved."""
    pin = res.pins.get((ref.repo, ref.at, ref.path))
    copies = res.previews.get((ref.repo, ref.path), {})
    out = []
    for no, text in enumerate(pin.content.splitlines() if pin else (), 1):
        if not PREVIEW.search(text):
            continue
        fps = sorted(fp for fp, shown in copies.items() if shown in text)
        where = f"{ref.path}@{ref.at}:{no}"
        if len(fps) == 1:
            out.append(Reach(fps[0], (node, f"credential:{fps[0]}"), f"value written in {where}"))
        else:
            why = (f"ambiguous: {len(fps)} values found in {ref.path} share the preview at line {no} of {ref.at}"
                   if fps else f"a value is written at line {no} of {ref.path} at {ref.at}, but the scan holds "
                   "no credential for it (git history not scanned?)")
            out.append(Reach(None, (node,), why, node, ref.repo, node, tuple(fps)))
    return out


def _not_found(res: Resolver, wf_node: str) -> str:
    repo = wf_node.split(":", 3)[2] if wf_node.count(":") >= 3 else ""
    return res.missing.get(wf_node) or NOT_FOLLOWED.get(repo) or "workflow not found in the scanned sources"


def evaluate(res: Resolver, wf_node: str, scope: Scope, prefix: tuple[str, ...] = (),
             stack: frozenset[str] = frozenset()) -> list[Reach]:
    """Every credential (or unbound name) `wf_node` reaches in `scope`, through its calls."""
    wf = res.files.get(wf_node)
    here = (*prefix, wf_node)
    by = prefix[-1] if prefix else wf_node
    if len(stack) >= MAX_DEPTH:
        return [Reach(None, here, f"calls nested deeper than {MAX_DEPTH} levels: not followed", wf_node,
                      scope.repo, by)]
    if wf is None:
        return [Reach(None, here, _not_found(res, wf_node), wf_node, scope.repo, by)]
    if wf.error:
        return [Reach(None, here, f"cannot be read: {wf.error}", wf_node, scope.repo, by)] + [
            Reach(r.fingerprint, (*prefix, *r.path), r.how) for r in written_in(res, wf_node, wf.ref.repo, wf.ref.path)]
    out: list[Reach] = []
    where = f"{scope.platform}:{scope.repo}"
    for ref in wf.refs:
        if ref.name in wf.defined and ref.kind not in ("vault", "literal"):
            continue
        bindings = res.bind(ref, scope, wf)
        node = ref_node(wf_node, ref.name)
        if bindings is None:
            continue
        if not bindings:
            blocking = res.secret_like(ref)
            out.append(Reach(None, (*here, node), "unresolved" if blocking else "unresolved-config", ref.name,
                             where + (f"@{ref.environment}" if ref.environment else ""), wf_node,
                             blocking=blocking))
        for b in bindings:
            if not b.fingerprint:
                out.append(Reach(None, (*here, node, *b.via), b.how, ref.name, where, wf_node, b.candidates))
                continue
            out.append(Reach(b.fingerprint, (*here, node, *b.via, f"credential:{b.fingerprint}"), b.how))
    # the live copies are HEAD's; a file read at a pinned ref shows its own values in its record
    written = written_at_pin(res, wf_node, wf.ref) if wf.ref.at else written_in(res, wf_node, wf.ref.repo, wf.ref.path)
    out += [replace(r, path=(*prefix, *r.path)) if r.fingerprint else replace(r, path=(*prefix, *r.path),
            referenced_by=by) for r in written]
    for call in wf.calls:
        if call.target.node in stack or call.target.node == wf_node:
            continue
        inner = call_scope(scope, call, wf_node)
        if call.how in ("include", "trigger-child"):  # the including file's YAML variables stay defined
            inner = Scope(inner.platform, inner.repo, inner.agent, inner.store, inner.overrides,
                          scope.yaml | wf.yaml_globals)
        out += evaluate(res, call.target.node, inner, here, stack | {wf_node})
    return out
