"""Graph input: the agent inventory. Takes an `agents.yaml` (`kind: AgentInventory`, format in
INVENTORY.md) or Backstage `catalog-info.yaml` descriptors (multi-document, `spec.type: ai-agent`,
`sprawlscan.io/*` annotations) and gives frozen `Agent` records, plus the optional top-level
`people:` map (owner ref → `{jira: ACCOUNT_ID}`) notifications assign by. Credentials are named by
reference (vault path, env var, CI secret), never by value. Any malformed entry raises
`ConfigError` naming the file, the agent and the field (exit 2)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import ConfigError
from scanner.parsing import TooComplex, yaml_load_all

LIFECYCLES = ("experimental", "production", "deprecated", "retired")
LIFETIMES = ("static", "short-lived", "federated")
ISSUED_TO = ("identity", "platform", "human")
WORKFLOW_KINDS = ("github", "gitlab", "mcp", "code", "langgraph", "crewai", "n8n", "compose")


@dataclass(frozen=True, slots=True)
class Owner:
    """Who answers for an agent."""

    business: str | None = None
    """Business owner (Backstage ref `group:x` / `user:x`)."""
    technical: str | None = None
    """Technical owner."""


@dataclass(frozen=True, slots=True)
class IdentityRef:
    """A principal an agent runs as: a workload identity or its platform parent."""

    ref: str
    """Provider-qualified name (`openai:proj_support/svcacct/support-triage`)."""
    kind: str = ""
    """Free-form kind (`openai-project`, `github-app`...)."""
    exclusive: bool = False
    """True when it exists only for this agent, so it dies with it."""


@dataclass(frozen=True, slots=True)
class CISecret:
    """A CI secret name in a scope."""

    platform: str
    """`github` or `gitlab`."""
    scope: str
    """`owner/repo`, `org:owner` (GitHub), or a GitLab project / group path."""
    name: str
    """The secret or variable name."""
    environment: str = ""
    """GitHub environment / GitLab environment scope; empty for all."""


@dataclass(frozen=True, slots=True)
class VaultRef:
    """A vault key: `mount/path#key` (the API form `mount/data/path` is the same place)."""

    mount: str
    path: str
    key: str

    @property
    def location_path(self) -> str:
        return f"{self.path}#{self.key}"

    def __str__(self) -> str:
        return f"{self.mount}/{self.path}#{self.key}"


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """A credential an agent declares, by reference."""

    id: str
    """Unique within the agent."""
    provider: str = ""
    """Provider family (`openai`...)."""
    vault: VaultRef | None = None
    """Where the value is kept."""
    env: tuple[str, ...] = ()
    """Environment variable names the agent reads it from."""
    ci: tuple[CISecret, ...] = ()
    """CI secret names it is stored under."""
    lifetime: str | None = None
    """`static`, `short-lived` or `federated`; None when undeclared (counts as static)."""
    issued_to: str | None = None
    """`identity`, `platform` or `human`; None when undeclared (counts as surviving)."""
    principal: str | None = None
    """The identity ref or person (`user:bob`) it is issued to, when named."""
    expires: dt.datetime | None = None
    """Expiry of the value (UTC)."""
    minted_by: str | None = None
    """Identity ref or credential id that mints this (short-lived) credential."""
    invalidated_with_principal: bool | None = None
    """Overrides the provider registry: does deleting the principal kill it?"""


@dataclass(frozen=True, slots=True)
class WorkflowRef:
    """Something the agent runs: a CI workflow, an MCP server entry, a config, code."""

    kind: str
    """One of `WORKFLOW_KINDS`."""
    repo: str
    """Repository (`owner/name`, GitLab group path) or scanned directory."""
    path: str
    """File path in the repository."""
    item: str = ""
    """Entry inside the file (MCP server name)."""
    at: str = ""
    """Git ref the file is read at (`uses: ...@v1`, GitLab `include: ref:`); empty: HEAD."""

    @property
    def node(self) -> str:
        tail = f"#{self.item}" if self.item else ""
        pin = f"@{self.at}" if self.at else ""
        return f"workflow:{self.kind}:{self.repo}:{self.path}{pin}{tail}"


@dataclass(frozen=True, slots=True)
class Agent:
    """One AI agent as declared (or inferred)."""

    name: str
    purpose: str | None = None
    owner: Owner = Owner()
    lifecycle: str | None = None
    expires: dt.date | None = None
    platform: IdentityRef | None = None
    identities: tuple[IdentityRef, ...] = ()
    credentials: tuple[CredentialRef, ...] = ()
    workflows: tuple[WorkflowRef, ...] = ()
    inferred: bool = False
    """True when sprawlscan guessed it (no inventory entry)."""
    source: str = ""
    """File it was declared in."""

    @property
    def node(self) -> str:
        return f"agent:{self.name}"


@dataclass(frozen=True, slots=True)
class Person:
    """How to reach an owner (a `user:` / `group:` ref) in other tools: the top-level `people:`
    map of the inventory, or a Backstage `User` / `Group` entity."""

    ref: str
    """The owner ref agents name (`user:bob`, `group:support-ops`)."""
    jira: str | None = None
    """Jira Cloud account id: notification issues about what this owner answers for are
    assigned to it."""


@dataclass(frozen=True, slots=True)
class Inventory:
    agents: tuple[Agent, ...]
    source: str = ""
    people: tuple[Person, ...] = ()
    """Owners' accounts in other tools (optional)."""

    def agent(self, name: str) -> Agent | None:
        return next((a for a in self.agents if a.name == name), None)

    def jira_account(self, ref: str) -> str | None:
        """The Jira account id of an owner ref (`user:default/bob` is `user:bob`)."""
        key = owner_key(ref)
        return next((p.jira for p in self.people if owner_key(p.ref) == key and p.jira), None)


def owner_key(ref: str) -> str:
    """An owner ref compared without Backstage's default namespace."""
    kind, sep, name = ref.partition(":")
    return f"{kind}:{name.removeprefix('default/')}" if sep else ref


class _Ctx:
    """Error context: file and agent, so every message names both."""

    def __init__(self, file: str, agent: str = "?") -> None:
        self.file, self.agent = file, agent

    def fail(self, field: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.file}: agent {self.agent!r}: field {field!r}: {problem}")


def _str(ctx: _Ctx, field: str, v: Any, required: bool = False) -> str | None:
    if v is None:
        if required:
            raise ctx.fail(field, "is required")
        return None
    if not isinstance(v, (str, int, float)) or isinstance(v, bool):
        raise ctx.fail(field, "must be a string")
    return str(v)


def _choice(ctx: _Ctx, field: str, v: Any, choices: tuple[str, ...]) -> str | None:
    s = _str(ctx, field, v)
    if s is not None and s not in choices:
        raise ctx.fail(field, f"must be one of {', '.join(choices)} (got {s!r})")
    return s


def _date(ctx: _Ctx, field: str, v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v))
    except ValueError:
        raise ctx.fail(field, f"not an ISO date: {v!r}") from None


AOE = dt.timezone(dt.timedelta(hours=-12), "AoE")
"""Anywhere on Earth (UTC-12): an expiry stated without a time zone is read at the latest instant
it can mean, so it never ends a credential's life early."""


def latest_instant(v: dt.date | dt.datetime) -> dt.datetime:
    """An expiry at the latest moment it can mean: a date is the end of that day anywhere on
    Earth, a date-time without a zone is read at UTC-12."""
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=AOE)
    return later(dt.datetime(v.year, v.month, v.day, tzinfo=AOE), dt.timedelta(days=1))


def later(t: dt.datetime, d: dt.timedelta) -> dt.datetime:
    """`t + d`, or the last representable instant when that is past year 9999 (`9999-12-31`
    is how some inventories write "never")."""
    try:
        return t + d
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def _datetime(ctx: _Ctx, field: str, v: Any) -> dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, dt.date):
        return latest_instant(v)
    try:
        text = str(v)
        return latest_instant(dt.date.fromisoformat(text) if len(text) == 10 else
                              dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ctx.fail(field, f"not an ISO date/time: {v!r}") from None


def _list(ctx: _Ctx, field: str, v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    if not isinstance(v, list):
        raise ctx.fail(field, "must be a list")
    return v


def parse_vault(ctx: _Ctx, field: str, v: str) -> VaultRef:
    """`mount/path#key`; the KV v2 API form `mount/data/path#key` names the same place."""
    ref, _, key = v.partition("#")
    mount, _, path = ref.strip("/").partition("/")
    if path.startswith("data/"):
        path = path[5:]
    if not key or not mount or not path:
        raise ctx.fail(field, f"must be mount/path#key (got {v!r})")
    return VaultRef(mount, path, key)


def parse_ci(ctx: _Ctx, field: str, v: Any) -> CISecret:
    if isinstance(v, dict) and len(v) == 1:
        platform, spec = next(iter(v.items()))
    elif isinstance(v, str) and ":" in v:
        platform, _, spec = v.partition(":")
    else:
        raise ctx.fail(field, "must be {github|gitlab: scope:NAME}")
    if platform not in ("github", "gitlab") or not isinstance(spec, str):
        raise ctx.fail(field, "must be {github|gitlab: scope:NAME}")
    scope, _, name = spec.rpartition(":")
    name, _, env = name.partition("@")
    if not scope or not name:
        raise ctx.fail(field, f"must be scope:NAME (got {spec!r})")
    return CISecret(platform, scope, name, env)


def parse_workflow(ctx: _Ctx, field: str, v: Any) -> WorkflowRef:
    if not (isinstance(v, dict) and len(v) == 1):
        raise ctx.fail(field, f"must be one of {{{'|'.join(WORKFLOW_KINDS)}: ref}}")
    kind, spec = next(iter(v.items()))
    if kind not in WORKFLOW_KINDS or not isinstance(spec, str):
        raise ctx.fail(field, f"must be one of {{{'|'.join(WORKFLOW_KINDS)}: ref}}")
    spec, _, item = spec.partition("#")
    spec = spec.split("@", 1)[0]
    if ":" in spec:
        repo, _, path = spec.partition(":")
    else:  # github form: owner/repo/.github/workflows/x.yml
        parts = spec.split("/")
        repo, path = "/".join(parts[:2]), "/".join(parts[2:])
    if not repo or not path:
        raise ctx.fail(field, f"must name a repository and a file (got {spec!r})")
    return WorkflowRef(kind, repo, path, item)


def _identity(ctx: _Ctx, field: str, v: Any) -> IdentityRef:
    if isinstance(v, str):
        return IdentityRef(v)
    if not isinstance(v, dict):
        raise ctx.fail(field, "must be a mapping with 'ref'")
    excl = v.get("exclusive", False)
    if not isinstance(excl, bool):
        raise ctx.fail(f"{field}.exclusive", "must be true or false")
    return IdentityRef(_str(ctx, f"{field}.ref", v.get("ref"), True) or "",
                       _str(ctx, f"{field}.kind", v.get("kind")) or "", excl)


def _credential(ctx: _Ctx, field: str, v: Any) -> CredentialRef:
    if not isinstance(v, dict):
        raise ctx.fail(field, "must be a mapping")
    vault = _str(ctx, f"{field}.vault", v.get("vault"))
    inval = v.get("invalidatedWithPrincipal")
    if inval is not None and not isinstance(inval, bool):
        raise ctx.fail(f"{field}.invalidatedWithPrincipal", "must be true or false")
    return CredentialRef(
        id=_str(ctx, f"{field}.id", v.get("id"), True) or "",
        provider=_str(ctx, f"{field}.provider", v.get("provider")) or "",
        vault=parse_vault(ctx, f"{field}.vault", vault) if vault else None,
        env=tuple(_str(ctx, f"{field}.env", e, True) or "" for e in _list(ctx, f"{field}.env", v.get("env"))),
        ci=tuple(parse_ci(ctx, f"{field}.ci[{i}]", c) for i, c in enumerate(_list(ctx, f"{field}.ci", v.get("ci")))),
        lifetime=_choice(ctx, f"{field}.lifetime", v.get("lifetime"), LIFETIMES),
        issued_to=_choice(ctx, f"{field}.issuedTo", v.get("issuedTo"), ISSUED_TO),
        principal=_str(ctx, f"{field}.principal", v.get("principal")),
        expires=_datetime(ctx, f"{field}.expires", v.get("expires")),
        minted_by=_str(ctx, f"{field}.mintedBy", v.get("mintedBy")),
        invalidated_with_principal=inval)


def _agent(ctx: _Ctx, entry: Any, index: int) -> Agent:
    if not isinstance(entry, dict):
        raise ConfigError(f"{ctx.file}: agents[{index}]: must be a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{ctx.file}: agents[{index}]: field 'name' is required")
    ctx.agent = name
    platform = entry.get("platform")
    creds = tuple(_credential(ctx, f"credentials[{i}]", c)
                  for i, c in enumerate(_list(ctx, "credentials", entry.get("credentials"))))
    ids = [c.id for c in creds]
    if len(set(ids)) != len(ids):
        raise ctx.fail("credentials", "duplicate credential id")
    return Agent(
        name=name, purpose=_str(ctx, "purpose", entry.get("purpose")),
        owner=Owner(_str(ctx, "owner", entry.get("owner")), _str(ctx, "technicalOwner", entry.get("technicalOwner"))),
        lifecycle=_choice(ctx, "lifecycle", entry.get("lifecycle"), LIFECYCLES),
        expires=_date(ctx, "expires", entry.get("expires")),
        platform=_identity(ctx, "platform", platform) if platform is not None else None,
        identities=tuple(_identity(ctx, f"identities[{i}]", x)
                         for i, x in enumerate(_list(ctx, "identities", entry.get("identities")))),
        credentials=creds,
        workflows=tuple(parse_workflow(ctx, f"workflows[{i}]", w)
                        for i, w in enumerate(_list(ctx, "workflows", entry.get("workflows")))),
        source=ctx.file)


OWNER_REF = re.compile(r"(?:user|group):[A-Za-z0-9_.@/+-]+")
PERSON_FIELDS = ("jira",)


def parse_people(file: str, v: Any) -> list[Person]:
    """The top-level `people:` map: owner ref → `{jira: ACCOUNT_ID}`."""
    if v is None:
        return []
    if not isinstance(v, dict):
        raise ConfigError(f"{file}: field 'people' must be a mapping of user:/group: refs")
    out = []
    for ref, fields in v.items():
        if not isinstance(ref, str) or not OWNER_REF.fullmatch(ref):
            raise ConfigError(f"{file}: field 'people': {str(ref)[:80]!r} is not a user:NAME or group:NAME ref")
        if not isinstance(fields, dict):
            raise ConfigError(f"{file}: field 'people.{ref}' must be a mapping (jira: ACCOUNT_ID)")
        unknown = sorted(str(k) for k in fields if k not in PERSON_FIELDS)
        if unknown:
            raise ConfigError(f"{file}: field 'people.{ref}.{unknown[0][:40]}': unknown "
                              f"(known: {', '.join(PERSON_FIELDS)})")
        jira = fields.get("jira")
        if not isinstance(jira, str) or not jira.strip() or len(jira) > 128:
            raise ConfigError(f"{file}: field 'people.{ref}.jira' must be a Jira account id")
        out.append(Person(ref, jira.strip()))
    return out


def load_inventory(path: str | Path) -> Inventory:
    """Read an `agents.yaml` or a Backstage `catalog-info.yaml`."""
    file = str(path)
    try:
        docs = [d for d in yaml_load_all(Path(path).read_text(encoding="utf-8")) if d is not None]
    except TooComplex as exc:
        raise ConfigError(f"{file}: inventory refused: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: inventory is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read inventory ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{file}:{where} not valid YAML") from None
    agents: list[Agent] = []
    people: list[Person] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise ConfigError(f"{file}: each YAML document must be a mapping")
        if doc.get("kind") == "AgentInventory":
            entries = doc.get("agents")
            if not isinstance(entries, list):
                raise ConfigError(f"{file}: field 'agents' must be a list")
            agents += [_agent(_Ctx(file), e, i) for i, e in enumerate(entries)]
            people += parse_people(file, doc.get("people"))
        elif doc.get("kind") in ("Resource", "Component") and (doc.get("spec") or {}).get("type") == "ai-agent":
            from scanner.graph.backstage import backstage_agent

            agents.append(backstage_agent(_Ctx(file, str((doc.get("metadata") or {}).get("name"))), doc))
        elif doc.get("kind") in ("User", "Group"):
            from scanner.graph.backstage import backstage_person

            people += backstage_person(file, doc)
    if not agents:
        raise ConfigError(f"{file}: no agents (expected kind: AgentInventory or Backstage spec.type: ai-agent)")
    names = [a.name for a in agents]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ConfigError(f"{file}: agent {dup!r}: field 'name': declared twice")
    refs = [owner_key(p.ref) for p in people]
    twice = next((r for r in refs if refs.count(r) > 1), None)
    if twice:
        raise ConfigError(f"{file}: field 'people.{twice}': declared twice")
    return Inventory(tuple(agents), file, tuple(people))
