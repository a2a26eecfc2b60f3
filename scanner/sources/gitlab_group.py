"""Source: a GitLab group with all its subgroups (`gitlab:GROUP`, `gitlab:GROUP/SUB`), crawled
through python-gitlab. Takes the group path, the instance URL (`--gitlab-url`) and `GITLAB_TOKEN`;
gives chunks and `inventory_facts`.

Per group and descendant group: CI/CD variables with their values (readable with maintainer
rights). Per project (one progress unit): a bare mirror clone in the cache dir scanned with its
whole history by `GitHistorySource` (repo name = full path `group/sub/project`; its wiki as
`group/sub/project.wiki`), issue titles,
descriptions and notes (`gitlab-issue`, `issues/3`, `issues/3#note-17`), merge request titles,
descriptions and notes including diff notes (`gitlab-mr`, `merge_requests/5#note-20`), project
snippets' content (`gitlab-snippet`), CI/CD variables (`gitlab-variable`, path `KEY@scope`),
pipeline schedule variables (`gitlab-schedule-variable`, `schedules/4#KEY`), and the default
branch's `.gitlab-ci.yml` as an `InventoryFact`. Variable chunks carry their name (`Chunk.key`):
a value under a secret-sounding name is a credential even when no rule matches (`scanner.declared`).

Units (`scanner.units`): one per group (its variables), then one per project, listed by
`units()`; the serial crawl runs the same units in the same order. Pages of every list follow
the server's `Link` moved onto the configured URL (`keep_base_url`), so an instance whose
`external_url` differs loses no page and the token goes nowhere else.

Faults: python-gitlab honours 429 `Retry-After` / `RateLimit-Reset` and retries 5xx with backoff
(`max_retries` per request); a wait longer than `max_wait` gives up on that unit instead of
sleeping. A failing unit is one line in `stats.errors`; a rejected token or unknown group on the
first request raises `ConfigError` (exit 2). The token travels only in headers and is scrubbed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlsplit

import gitlab
import requests
from gitlab.exceptions import GitlabAuthenticationError, GitlabError
from gitlab.v4.objects import Group, Project

from scanner.engine import Engine
from scanner.errors import ConfigError
from scanner.model import InventoryFact, Location, ScanStats
from scanner.sources.base import Hit, SourceOptions, Unit
from scanner.sources.clone_cache import (ForgeSource, Item, basic_auth_header, cache_root,
                                         clone_path, expand_hits, head_files, mirror,
                                         name_problem, wiki)
from scanner.sources.git_history import GitError, GitHistorySource
from scanner.sources.http_guard import OffHostRefused, PinnedSession

DEFAULT_URL = "https://gitlab.com"


class RateLimitTooLong(Exception):
    """The server asked for a wait longer than the source allows."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.0f}s")
        self.wait = wait


class PaginationLoop(Exception):
    """The server's next page is one it already handed out: the list would never end."""


class _Client(gitlab.Gitlab):
    """python-gitlab with a bounded number of retries per request."""

    max_retries_per_request = 4

    def http_request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("max_retries", self.max_retries_per_request)
        return super().http_request(*args, **kwargs)


class GitLabGroupSource(ForgeSource):
    """Everything readable in one GitLab group and its subgroups."""

    def __init__(self, target: str, options: SourceOptions | None = None, *,
                 url: str | None = None, cache_dir: str | Path | None = None,
                 token: str | None = None, retries: int = 4, max_wait: float = 300.0) -> None:
        self.group = target.strip("/")
        if not self.group:
            raise ConfigError("gitlab: expected gitlab:GROUP")
        self.name = f"gitlab:{self.group}"
        self.options = options or SourceOptions()
        self.url = (url or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("GITLAB_TOKEN") or None
        self.cache = cache_root(cache_dir)
        self.retries, self.max_wait = retries, max_wait
        self.inventory_facts: list[InventoryFact] = []
        """CI/CD variable names and `.gitlab-ci.yml` files seen by the last crawl (for the graph)."""
        self.progress: Callable[[str], None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def client(self) -> gitlab.Gitlab:
        session = PinnedSession(self.url)  # the token goes to the configured instance only
        session.hooks["response"].append(self._refuse_long_waits)
        session.hooks["response"].append(_pagination_guard(set()))
        # `keep_base_url`: the next page's `Link` is moved onto the configured URL. An instance
        # whose `external_url` differs from the URL we were given (a proxy, an internal name)
        # names another origin there: followed as given, the session refuses it and the page
        # is lost (python-gitlab only warns of "broken pagination")
        gl = _Client(self.url, private_token=self.token, session=session, per_page=100,
                     timeout=30, retry_transient_errors=True, keep_base_url=True)
        gl.max_retries_per_request = self.retries
        return gl

    def _refuse_long_waits(self, response: requests.Response, *_a: Any, **_k: Any) -> None:
        if response.status_code != 429:
            return
        wait = 0.0
        after = response.headers.get("Retry-After", "")
        reset = response.headers.get("RateLimit-Reset", "")
        if after.isdigit():
            wait = float(after)
        elif reset.isdigit():
            wait = int(reset) - time.time()
        if wait > self.max_wait:
            raise RateLimitTooLong(wait)

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, PaginationLoop):
            return "the server's next page repeats a page already read (list not finished)"
        if isinstance(exc, RateLimitTooLong):
            return f"rate limited for {exc.wait:.0f}s, more than the {self.max_wait:.0f}s allowed"
        if isinstance(exc, GitlabAuthenticationError):
            return "GitLab rejected the token: 401"
        if isinstance(exc, GitlabError):
            msg = exc.error_message
            if isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")
            if exc.response_code is None:  # python-gitlab could not parse a 2xx answer
                return f"unexpected response ({str(msg)[:120]})"
            return f"HTTP {exc.response_code}" + (f" ({str(msg)[:120]})" if msg else "")
        if isinstance(exc, OffHostRefused):
            return str(exc)
        if isinstance(exc, requests.RequestException):
            return f"cannot reach {urlparse(self.url).netloc} ({type(exc).__name__})"
        return str(exc)

    def guard(self, stats: ScanStats, unit: str, gen: Iterator[Item]) -> Iterator[Item]:
        """Run one unit; a failure becomes one line in `stats.errors`, earlier chunks are kept."""
        try:
            yield from gen
        except (GitlabError, requests.RequestException, GitError, RateLimitTooLong,
                PaginationLoop, ConfigError) as exc:
            stats.errors.append(self.scrub(f"{unit}: {self.describe(exc)}"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # malformed JSON shape
            stats.errors.append(f"{unit}: unexpected response ({type(exc).__name__})")
        except RecursionError:  # python-gitlab recurses once per empty page it is sent on to
            stats.errors.append(f"{unit}: unexpected response (empty pages without end)")

    # -- crawl -------------------------------------------------------------------------------

    def crawl(self, stats: ScanStats) -> Iterator[Item]:
        """The serial crawl: every unit in order, with one client (what the split scan finds)."""
        gl = self.client()
        self.inventory_facts = []
        for unit in self.list_units(gl, stats):
            yield from self.crawl_unit(gl, unit, stats)

    def units(self, stats: ScanStats) -> list[Unit]:
        """One unit per group (its CI/CD variables), then one per project (its listing JSON
        travels with the unit: no second request); the group tree and project list are read
        here."""
        return self.list_units(self.client(), stats)

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        self.inventory_facts = []
        return expand_hits(self.crawl_unit(self.client(), unit, stats), engine, stats)

    def list_units(self, gl: gitlab.Gitlab, stats: ScanStats) -> list[Unit]:
        group = self.open_group(gl)
        groups: list[Any] = [group]
        for _ in self.guard(stats, f"{self.group} subgroups",
                            _collect(group.descendant_groups.list(iterator=True), groups)):
            pass
        projects: list[Any] = []
        for _ in self.guard(stats, f"{self.group} project list", _collect(
                group.projects.list(iterator=True, include_subgroups=True, with_shared=False),
                projects)):
            pass
        units = [Unit(self.name, f"group {i}/{len(groups)}", f"{self.name} group {g.full_path}",
                      {k: g.attributes.get(k) for k in ("id", "full_path", "web_url")}, repos=())
                 for i, g in enumerate(groups, 1)]
        for i, p in enumerate(projects, 1):
            path = str(p.path_with_namespace)
            units.append(Unit(self.name, f"project {i}/{len(projects)}", path, _lean(p.attributes),
                              (path, f"{path}.wiki")))
        return units

    def crawl_unit(self, gl: gitlab.Gitlab, unit: Unit, stats: ScanStats) -> Iterator[Item]:
        if unit.key.startswith("project "):
            p = Project(gl.projects, dict(unit.data))
            self.report(f"{unit.key} {p.path_with_namespace}")
            yield from self.project(gl, p, stats)
        else:
            g = Group(gl.groups, dict(unit.data))
            yield from self.guard(stats, f"{g.full_path} variables", self.group_variables(gl, g, stats))

    def open_group(self, gl: gitlab.Gitlab) -> Any:
        """The target group; a 401, an unknown group or no answer raises ConfigError (exit 2)."""
        try:
            return gl.groups.get(self.group)
        except GitlabAuthenticationError:
            raise ConfigError(f"GitLab rejected the token for {self.group}: 401") from None
        except GitlabError as exc:
            if exc.response_code == 404:
                raise ConfigError(f"{self.name}: no such group (404)") from None
            raise ConfigError(self.scrub(f"{self.name}: {self.describe(exc)}")) from None
        except (requests.RequestException, RateLimitTooLong) as exc:
            raise ConfigError(self.scrub(f"{self.name}: {self.describe(exc)}")) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{self.name}: unexpected response ({type(exc).__name__})") from None

    def group_variables(self, gl: gitlab.Gitlab, g: Any, stats: ScanStats) -> Iterator[Item]:
        for v in gl.groups.get(g.id, lazy=True).variables.list(iterator=True):
            yield from self.variable(v, g.full_path, "group", f"{g.web_url}/-/settings/ci_cd", stats)

    def variable(self, v: Any, scope: str, level: str, url: str, stats: ScanStats) -> Iterator[Item]:
        env = getattr(v, "environment_scope", "*") or "*"
        self.inventory_facts.append(InventoryFact("ci-variable", scope, v.key, level, env))
        if v.value is None:  # hidden variables are write-only
            stats.skip("hidden-variable")
            return
        loc = Location("gitlab-variable", scope, f"{v.key}@{env}", url=url)
        yield from self.chunk(v.value, loc, stats, key=v.key)

    def project(self, gl: gitlab.Gitlab, p: Any, stats: ScanStats) -> Iterator[Item]:
        path = p.path_with_namespace
        problem = name_problem(str(path or ""))
        if problem:
            stats.errors.append(f"project {path!r} skipped: unusable name ({problem})")
            return
        proj = gl.projects.get(p.id, lazy=True)
        yield from self.guard(stats, f"{path} clone", self.history(p, stats))
        for feature, unit, crawl in (("issues", "issues", self.issues),
                                     ("merge_requests", "merge requests", self.merge_requests),
                                     ("snippets", "snippets", self.snippets)):
            if _enabled(p, feature):
                yield from self.guard(stats, f"{path} {unit}", crawl(proj, path, stats))
            else:
                stats.skip("feature-disabled")
        yield from self.guard(stats, f"{path} variables", self.project_variables(proj, p, stats))
        yield from self.guard(stats, f"{path} pipeline schedules", self.schedules(proj, p, stats))

    def history(self, p: Any, stats: ScanStats) -> Iterator[Item]:
        url = p.http_url_to_repo
        dest = clone_path(self.cache, "gitlab", urlparse(self.url).netloc, p.path_with_namespace)
        auth = basic_auth_header("oauth2", self.token) if self.token and url.startswith("http") else None
        mirror(url, dest, auth, forge=self.url)
        # the clone: files a pipeline includes at a ref are read there (`pinned` records)
        self.inventory_facts.append(InventoryFact("git-repo", p.path_with_namespace, str(dest)))
        for name, text in head_files(dest, ".gitlab-ci.yml", (".gitlab-ci.yml",)):
            self.inventory_facts.append(InventoryFact("ci-config", p.path_with_namespace, name,
                                                      "project", content=text))
        yield GitHistorySource(dest, self.options, name=p.path_with_namespace)
        if _enabled(p, "wiki"):
            wiki_dest = clone_path(self.cache, "gitlab", urlparse(self.url).netloc,
                                   p.path_with_namespace + ".wiki")
            found = wiki(url, wiki_dest, auth, p.path_with_namespace + ".wiki", self.options, stats,
                         forge=self.url)
            if found is not None:
                yield found

    def issues(self, proj: Any, path: str, stats: ScanStats) -> Iterator[Item]:
        for issue in proj.issues.list(iterator=True):
            loc = Location("gitlab-issue", path, f"issues/{issue.iid}", url=issue.web_url)
            yield from self.chunk(f"{issue.title or ''}\n{issue.description or ''}", loc, stats)
            yield from self.guard(stats, f"{path} issue {issue.iid} notes",
                                  self.notes(issue, "gitlab-issue", path, f"issues/{issue.iid}",
                                             issue.web_url, stats))

    def merge_requests(self, proj: Any, path: str, stats: ScanStats) -> Iterator[Item]:
        for mr in proj.mergerequests.list(iterator=True, state="all"):
            loc = Location("gitlab-mr", path, f"merge_requests/{mr.iid}", url=mr.web_url)
            yield from self.chunk(f"{mr.title or ''}\n{mr.description or ''}", loc, stats)
            yield from self.guard(stats, f"{path} merge request {mr.iid} notes",
                                  self.notes(mr, "gitlab-mr", path, f"merge_requests/{mr.iid}",
                                             mr.web_url, stats))

    def notes(self, parent: Any, source: str, path: str, base: str, web_url: str,
              stats: ScanStats) -> Iterator[Item]:
        for note in parent.notes.list(iterator=True):
            loc = Location(source, path, f"{base}#note-{note.id}", url=f"{web_url}#note_{note.id}")
            yield from self.chunk(note.body, loc, stats)

    def snippets(self, proj: Any, path: str, stats: ScanStats) -> Iterator[Item]:
        for sn in proj.snippets.list(iterator=True):
            content = proj.snippets.get(sn.id, lazy=True).content()
            loc = Location("gitlab-snippet", path, f"snippets/{sn.id}/{sn.file_name or ''}",
                           url=sn.web_url)
            yield from self.chunk(content, loc, stats)

    def project_variables(self, proj: Any, p: Any, stats: ScanStats) -> Iterator[Item]:
        for v in proj.variables.list(iterator=True):
            yield from self.variable(v, p.path_with_namespace, "project",
                                     f"{p.web_url}/-/settings/ci_cd", stats)

    def schedules(self, proj: Any, p: Any, stats: ScanStats) -> Iterator[Item]:
        path = p.path_with_namespace
        for listed in proj.pipelineschedules.list(iterator=True):
            sched = proj.pipelineschedules.get(listed.id)
            url = f"{p.web_url}/-/pipeline_schedules"
            for v in sched.attributes.get("variables") or []:
                key, value = v.get("key", ""), v.get("value")
                self.inventory_facts.append(InventoryFact("ci-variable", path, key, "schedule"))
                loc = Location("gitlab-schedule-variable", path, f"schedules/{listed.id}#{key}",
                               url=url)
                yield from self.chunk(value, loc, stats, key=key)


def _pagination_guard(given: set[tuple[str, str]]) -> Callable[..., None]:
    """A response hook: every `Link: rel="next"` a client is handed (path and query: its origin
    is replaced by the configured one) must be new, or the list loops (a server that names the
    same page again, empty or not, would keep python-gitlab requesting it for ever)."""
    def check(response: requests.Response, *_a: Any, **_k: Any) -> None:
        nxt = (response.links.get("next") or {}).get("url")
        if not nxt:
            return
        parts = urlsplit(nxt)
        key = (parts.path, "&".join(sorted(parts.query.split("&"))))
        if key in given:
            raise PaginationLoop(nxt)
        given.add(key)
    return check


def _enabled(p: Any, feature: str) -> bool:
    """Whether a project feature is on (`issues_access_level` / older `issues_enabled`); a listing
    without either field counts as on. Disabled features answer 403/404, which is no failure."""
    attrs = p.attributes
    if attrs.get(f"{feature}_access_level") == "disabled":
        return False
    return attrs.get(f"{feature}_enabled") is not False


_KEPT = frozenset({"id", "name", "path_with_namespace", "http_url_to_repo", "web_url",
                   "default_branch"})


def _lean(attrs: dict[str, Any]) -> dict[str, Any]:
    """What a project unit needs of its listing JSON (the coordinator holds one per project until
    it is dispatched): its names and URLs, and which features are on."""
    return {k: v for k, v in attrs.items()
            if k in _KEPT or k.endswith(("_access_level", "_enabled"))}


def _collect(items: Any, into: list[Any]) -> Iterator[Item]:
    """Materialise a paginated list into `into` (a generator so `guard` can wrap it)."""
    into.extend(items)
    yield from ()
