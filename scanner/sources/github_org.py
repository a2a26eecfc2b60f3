"""Source: a GitHub organisation, user or single repository (`github:ORG`, `github:OWNER/REPO`),
crawled through PyGithub. Takes the target, the API base (`--github-url`, GitHub Enterprise's
`https://HOST/api/v3`) and `GITHUB_TOKEN`; gives chunks and `inventory_facts`.

Per repository (one progress unit): a bare mirror clone in the cache dir (fetched when it exists)
scanned with its whole history by `GitHistorySource` (locations `git`, repo `owner/name`; the wiki
too, as `owner/name.wiki`); issue and PR titles + bodies (`github-issue`, `github-pr`, path
`issues/12`, `pulls/7`; PRs through /pulls when issues are disabled), issue and PR conversation
comments (`issues/12#comment-345`), PR review comments (`github-review-comment`,
`pulls/7#review-comment-9`, and the diff hunk each one quotes: `pulls/7#review-comment-9/diff/PATH`); Actions secret names at repo and environment level and the default
branch's `.github/workflows/*.yml` as `InventoryFact`s. Per owner: org-level Actions secret names,
and gists with every revision (`github-gist`, the newest revision `live`, older ones `historical`)
of the user (all of them, secret ones included, when the token is that user's: `/user/repos`,
`/gists`), or the public gists of the org's members.

Incremental rescans (`--db`, full mode): the issue, issue-comment and review-comment lists are
asked for most recently updated first with `If-None-Match: <ETag stored by the datastore>`
(`listing`), and the Actions secret names and the environment list likewise (`repo_secrets`); a
304 carries over, without plaintext, what the scan that stored the ETag found in that list, or the
secret names it gave (GitHub does not count a 304 against the token's rate limit). Only lists
answered in one page and read to their end store an ETag (an environment list only when empty);
anything else is crawled as without a datastore.

Faults: PyGithub's own `GithubRetry` honours `Retry-After` and `X-RateLimit-Reset` with bounded
retries and backoff (waits above `max_wait` give up); a unit that fails is one line in
`stats.errors` naming it, everything else is kept; `410 Gone` (a feature switched off) and a 403 on
secret names (admin only) are counted skips. A rejected token or an unknown owner on the first
request raises `ConfigError` (exit 2: nothing can be crawled). The token is sent only as a header
(API) or through git's environment (clones) and is scrubbed from every message."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import requests
from github import Auth, BadCredentialsException, Github, GithubException, GithubRetry
from github.AuthenticatedUser import AuthenticatedUser
from github.GithubObject import CompletableGithubObject
from github.Issue import Issue
from github.IssueComment import IssueComment
from github.PullRequestComment import PullRequestComment
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.Repository import Repository
from github.GithubException import RateLimitExceededExceedsMaxWait

from scanner.errors import ConfigError
from scanner.model import Chunk, InventoryFact, Location, ScanStats
from scanner.engine import Engine
from scanner.sources.base import Hit, SourceOptions, Stored, Unit
from scanner.sources.clone_cache import (Carried, ForgeSource, Item, basic_auth_header, cache_root,
                                         clone_path, expand_hits, head_files, mirror,
                                         name_problem, wiki)
from scanner.sources.git_history import GitError, GitHistorySource

DEFAULT_API = "https://api.github.com"

LISTS: dict[str, tuple[str, dict[str, str], type]] = {
    "issues": ("issues", {"state": "all"}, Issue),
    "issue-comments": ("issues/comments", {}, IssueComment),
    "review-comments": ("pulls/comments", {}, PullRequestComment),
}
"""The repository lists read with a stored ETag: kind → (path, parameters, PyGithub class)."""


class _Retry(GithubRetry):
    """GithubRetry that also retries a bare 429, reads `X-RateLimit-Reset` when `Retry-After` is
    missing, and gives up instead of sleeping longer than `max_rate_limit_wait`."""

    def get_retry_after(self, response: Any) -> float | None:
        after = super().get_retry_after(response)
        if after is None and response.headers.get("X-RateLimit-Remaining") == "0":
            reset = response.headers.get("X-RateLimit-Reset", "")
            if reset.isdigit():
                after = max(0.0, int(reset) - datetime.now(UTC).timestamp())
        if after is not None and self.max_rate_limit_wait is not None \
                and after > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(response.status, {"message": "rate limited"},
                                                  dict(response.headers), wait=after)
        return after


class GitHubOrgSource(ForgeSource):
    """Everything readable in one GitHub org, user or repository."""

    def __init__(self, target: str, options: SourceOptions | None = None, *,
                 api_url: str | None = None, cache_dir: str | Path | None = None,
                 token: str | None = None, retries: int = 4, backoff: float = 0.5,
                 max_wait: float = 300.0) -> None:
        owner, _, repo = target.strip("/").partition("/")
        if not owner or "/" in repo:
            raise ConfigError(f"github:{target}: expected github:ORG or github:OWNER/REPO")
        self.owner, self.repo = owner, repo
        self.name = f"github:{target}"
        self.options = options or SourceOptions()
        self.api_url = (api_url or DEFAULT_API).rstrip("/")
        self.token = token if token is not None else (os.environ.get("GITHUB_TOKEN")
                                                       or os.environ.get("GH_TOKEN") or None)
        self.cache = cache_root(cache_dir)
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self.inventory_facts: list[InventoryFact] = []
        """Actions secret names and workflow files seen by the last crawl (for the graph)."""
        self.progress: Callable[[str], None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def client(self) -> Github:
        retry = _Retry(total=self.retries, backoff_factor=self.backoff,
                       status_forcelist=[429, *range(500, 600)],
                       secondary_rate_wait=min(60.0, self.max_wait),
                       max_rate_limit_wait=self.max_wait)
        return Github(base_url=self.api_url, auth=Auth.Token(self.token) if self.token else None,
                      retry=retry, per_page=100, timeout=30, seconds_between_requests=None,
                      seconds_between_writes=None)

    def describe(self, exc: BaseException) -> str:
        """One line for a failure, never with the token or a response body beyond its message."""
        if isinstance(exc, RateLimitExceededExceedsMaxWait):
            return f"rate limited for {exc.wait:.0f}s, more than the {self.max_wait:.0f}s allowed"
        if isinstance(exc, BadCredentialsException):
            return "GitHub rejected the token: 401"
        if isinstance(exc, GithubException):
            msg = exc.data.get("message") if isinstance(exc.data, dict) else None
            return f"HTTP {exc.status}" + (f" ({str(msg)[:120]})" if msg else "")
        if isinstance(exc, requests.exceptions.RetryError):
            return "gave up after repeated rate limiting or server errors"
        if isinstance(exc, requests.RequestException):
            return f"cannot reach {urlparse(self.api_url).netloc} ({type(exc).__name__})"
        return str(exc)

    def guard(self, stats: ScanStats, unit: str, gen: Iterator[Item]) -> Iterator[Item]:
        """Run one unit; a failure becomes one line in `stats.errors`, earlier chunks are kept."""
        try:
            yield from gen
        except GithubException as exc:
            if exc.status == 410:  # the feature is disabled for this repository: nothing there
                stats.skip("feature-disabled")
            else:
                stats.errors.append(self.scrub(f"{unit}: {self.describe(exc)}"))
        except (requests.RequestException, GitError, ConfigError) as exc:
            stats.errors.append(self.scrub(f"{unit}: {self.describe(exc)}"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # malformed JSON shape
            stats.errors.append(f"{unit}: unexpected response ({type(exc).__name__})")
        except RecursionError:  # PyGithub's json.loads on an answer nested past the limit
            stats.errors.append(f"{unit}: unexpected response (JSON nested too deep)")
        except (RuntimeError, AssertionError) as exc:
            # PyGithub's requester refuses a redirect to another host (RuntimeError) and a
            # server-given URL outside its host (AssertionError): the token stays home
            stats.errors.append(self.scrub(f"{unit}: refused to follow the server to another "
                                           f"host or path ({type(exc).__name__}: {str(exc)[:160]})"))

    # -- crawl -------------------------------------------------------------------------------

    def crawl(self, stats: ScanStats) -> Iterator[Item]:
        gh = self.client()
        self.inventory_facts = []
        org, user, repos = self.discover(gh)
        listed: list[Any] = []
        if repos is not None:
            yield from self.guard(stats, f"{self.name} repository list",
                                  _collect(repos, listed))
        for i, repo in enumerate(listed, 1):
            self.report(f"repository {i}/{len(listed)} {repo.full_name}")
            yield from self.repository(repo, stats)
        yield from self.owner_part(gh, org, user, stats)

    def owner_part(self, gh: Github, org: Any, user: Any, stats: ScanStats) -> Iterator[Item]:
        """Org-level secret names and the gists of the members (or of the user)."""
        if org is not None:
            yield from self.guard(stats, f"{self.owner} org secrets", self.org_secrets(org, stats))
        if not self.repo:
            owners: list[Any] = []
            if org is not None:
                yield from self.guard(stats, f"{self.owner} members", _collect(org.get_members(), owners))
            elif user is not None:
                owners = [user]
            for i, who in enumerate(owners, 1):
                self.report(f"gists {i}/{len(owners)} {who.login}")
                yield from self.guard(stats, f"{who.login} gists", self.gists(gh, who, stats))

    def units(self, stats: ScanStats) -> list[Unit]:
        """Each repository (its API JSON travels with the unit: no second request), then the
        owner's own part (org secrets, gists); the repository list is read here."""
        gh = self.client()
        org, user, repos = self.discover(gh)
        owner: tuple[str, dict[str, Any]] | None = None
        if org is not None:
            owner = ("org", dict(org._rawData))
        elif user is not None:
            if isinstance(user, AuthenticatedUser):
                user.login  # noqa: B018 - complete it here: the unit carries its JSON
                owner = ("me", dict(user._rawData))
            else:
                owner = ("user", dict(user._rawData))
        listed: list[Any] = []
        if repos is not None:
            for _ in self.guard(stats, f"{self.name} repository list", _collect(repos, listed)):
                pass
        units = [Unit(self.name, "repo", str(r.full_name), _lean(r._rawData),  # raw_data would fetch it again
                      (str(r.full_name), f"{r.full_name}.wiki"))
                 for r in listed]
        units = [replace(u, key=f"repo {i}/{len(units)}") for i, u in enumerate(units, 1)]
        return units + [Unit(self.name, "owner", f"{self.name} owner", owner, repos=())]

    def scan_unit(self, unit: Unit, engine: Engine, stats: ScanStats) -> Iterator[Hit]:
        return expand_hits(self.crawl_unit(unit, stats), engine, stats)

    def crawl_unit(self, unit: Unit, stats: ScanStats) -> Iterator[Item]:
        gh = self.client()
        self.inventory_facts = []
        if unit.key.startswith("repo "):
            repo = gh.create_from_raw_data(Repository, unit.data)
            self.report(f"repository {unit.key.split()[1]} {repo.full_name}")
            yield from self.repository(repo, stats)
            return
        kind, raw = unit.data or ("", {})
        org = gh.create_from_raw_data(Organization, raw) if kind == "org" else None
        user = (gh.create_from_raw_data(AuthenticatedUser, raw) if kind == "me" else
                gh.create_from_raw_data(NamedUser, raw) if kind == "user" else None)
        yield from self.owner_part(gh, org, user, stats)

    def discover(self, gh: Github) -> tuple[Any, Any, Any]:
        """(org or None, user or None, repositories) ; a 401 or unknown owner raises ConfigError."""
        try:
            if self.repo:
                return None, None, [gh.get_repo(f"{self.owner}/{self.repo}")]
            user = gh.get_user(self.owner)
            if user.type == "Organization":
                org = gh.get_organization(self.owner)
                return org, None, org.get_repos(type="all")
            if self.token and self.is_me(gh):  # the token's own user: private repos, secret gists
                me = gh.get_user()
                return None, me, me.get_repos(type="owner")
            return None, user, user.get_repos(type="owner")
        except BadCredentialsException:
            raise ConfigError(f"GitHub rejected the token for {self.owner}: 401") from None
        except GithubException as exc:
            if exc.status == 404:
                raise ConfigError(f"{self.name}: no such organisation, user or repository "
                                  "(404)") from None
            raise ConfigError(self.scrub(f"{self.name}: {self.describe(exc)}")) from None
        except requests.RequestException as exc:
            raise ConfigError(self.scrub(f"{self.name}: {self.describe(exc)}")) from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{self.name}: unexpected response ({type(exc).__name__})") from None

    def is_me(self, gh: Github) -> bool:
        try:
            return str(gh.get_user().login).lower() == self.owner.lower()
        except GithubException:  # a token without user scope cannot say who it is
            return False

    def repository(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        full = repo.full_name
        problem = name_problem(str(full or ""))
        if problem:
            stats.errors.append(f"repository {full!r} skipped: unusable name ({problem})")
            return
        yield from self.guard(stats, f"{full} clone", self.history(repo, stats))
        yield from self.guard(stats, f"{full} issues", self.issues(repo, stats))
        yield from self.guard(stats, f"{full} issue comments", self.issue_comments(repo, stats))
        yield from self.guard(stats, f"{full} review comments", self.review_comments(repo, stats))
        yield from self.guard(stats, f"{full} secrets", self.repo_secrets(repo, stats))

    def history(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        host = urlparse(self.api_url).netloc
        dest = clone_path(self.cache, "github", host, repo.full_name)
        auth = basic_auth_header("x-access-token", self.token) \
            if self.token and repo.clone_url.startswith("http") else None
        mirror(repo.clone_url, dest, auth, forge=self.api_url)
        # the clone: files a workflow pins to a ref are read there (`pinned` records)
        self.inventory_facts.append(InventoryFact("git-repo", repo.full_name, str(dest)))
        for path, text in head_files(dest, ".github/workflows/", (".yml", ".yaml")):
            self.inventory_facts.append(InventoryFact("workflow", repo.full_name, path, "repo",
                                                      content=text))
        yield GitHistorySource(dest, self.options, name=repo.full_name)
        if repo.has_wiki:
            wiki_dest = clone_path(self.cache, "github", host, repo.full_name + ".wiki")
            found = wiki(repo.clone_url, wiki_dest, auth, repo.full_name + ".wiki", self.options, stats,
                         forge=self.api_url)
            if found is not None:
                yield found

    def issues(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        """Issues and PRs through /issues; with issues disabled (that endpoint answers 410 Gone)
        the PRs through /pulls."""
        if repo.has_issues is False:
            for pr in repo.get_pulls(state="all"):
                loc = Location("github-pr", repo.full_name, f"pulls/{pr.number}", url=pr.html_url)
                yield from self.chunk(f"{pr.title or ''}\n{pr.body or ''}", loc, stats)
            return
        for issue in self.listing(repo, "issues", lambda: repo.get_issues(state="all")):
            if isinstance(issue, Carried):
                yield issue
                continue
            pr = "/pull/" in (issue.html_url or "")
            loc = Location("github-pr" if pr else "github-issue", repo.full_name,
                           f"{'pulls' if pr else 'issues'}/{issue.number}", url=issue.html_url)
            yield from self.chunk(f"{issue.title or ''}\n{issue.body or ''}", loc, stats)

    def issue_comments(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        for c in self.listing(repo, "issue-comments", repo.get_issues_comments):
            if isinstance(c, Carried):
                yield c
                continue
            number = c.issue_url.rstrip("/").rsplit("/", 1)[-1]
            pr = "/pull/" in (c.html_url or "")
            loc = Location("github-pr" if pr else "github-issue", repo.full_name,
                           f"{'pulls' if pr else 'issues'}/{number}#comment-{c.id}", url=c.html_url)
            yield from self.chunk(c.body, loc, stats)

    def review_comments(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        for c in self.listing(repo, "review-comments", repo.get_pulls_comments):
            if isinstance(c, Carried):
                yield c
                continue
            number = c.pull_request_url.rstrip("/").rsplit("/", 1)[-1]
            loc = Location("github-review-comment", repo.full_name,
                           f"pulls/{number}#review-comment-{c.id}", url=c.html_url)
            yield from self.chunk(c.body, loc, stats)
            # the code the comment is attached to: a hunk of the PR's diff, which may be gone
            # from every branch since (force-pushed away) while the comment keeps it
            hunk = Location("github-review-comment", repo.full_name,
                            f"pulls/{number}#review-comment-{c.id}/diff/{c.path or ''}", url=c.html_url)
            yield from self.chunk(c.diff_hunk, hunk, stats)

    def listing(self, repo: Any, kind: str, crawl: Callable[[], Iterable[Any]]) -> Iterator[Any]:
        """The items of one of `repo`'s lists (`LISTS`). With a datastore the list is asked for
        most recently updated first (a new, edited or deleted item changes the answer, whatever
        page it was on) with `If-None-Match: <the ETag stored>`: a 304 gives one `Carried` with
        what the scan that stored the ETag found in it. A one-page 200 is read here and its ETag
        kept, once every item was consumed (a list read in part stores nothing: crawled next
        time). Anything else (several pages, an error, no ETag) is today's crawl, unchanged."""
        path, params, cls = LISTS[kind]
        params = {**params, "sort": "updated", "direction": "desc"}
        answer = self.conditional(repo, kind, path, params)
        if answer is None:
            yield from crawl()
            return
        key, stored, items = answer
        if items is None:
            yield Carried(tuple(stored.hits))
        else:
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise TypeError(f"{kind} is not a list of objects")
            completed = {"completed": True} if issubclass(cls, CompletableGithubObject) else {}
            for raw in items:
                yield cls(repo.requester, {}, raw, **completed)
        self.remember(repo.full_name, key, kind, stored)

    def conditional(self, repo: Any, kind: str, path: str, params: dict[str, str]
                    ) -> tuple[str, Stored, Any] | None:
        """One-page GET of `repo`'s `path` with the stored ETag: (key, what to store, None) on
        304, (key, what to store, the JSON) on a one-page 200; None when there is no datastore
        or the answer is anything else (the caller crawls as without ETags)."""
        etag_of = getattr(self.options.blob_cache, "etag", None)
        if not self.carry or etag_of is None:
            return None
        params = {**params, "per_page": "100"}
        url = f"{repo.url}/{path}"
        key = f"{url}?{urlencode(sorted(params.items()))}"
        known: Stored | None = etag_of(repo.full_name, key)
        # PyGithub's public request: its host check and redirect refusal stay in force
        status, raw_headers, body = repo.requester.requestJson(
            "GET", url, parameters=params, headers={"If-None-Match": known.etag} if known else None)
        headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
        if status == 304 and known is not None:
            return key, known, None
        etag = headers.get("etag", "")
        if status != 200 or not etag or 'rel="next"' in headers.get("link", ""):
            return None
        return key, Stored(etag), json.loads(body)

    def remember(self, repo: str, key: str, kind: str, stored: Stored) -> None:
        """An answer read to its end: its ETag is kept with this scan (a carried one too)."""
        self.options.blob_cache.save_etag(repo, key, kind, stored)  # type: ignore[union-attr]

    def repo_secrets(self, repo: Any, stats: ScanStats) -> Iterator[Item]:
        """Secret names of the repository and of each environment. With a datastore, the
        repository's names and its environment list are asked for with their stored ETags: a 304
        carries the names over; an environment list is stored only when empty (the secrets of an
        environment have lists of their own, crawled as without a datastore)."""
        full = repo.full_name
        answer = self.conditional(repo, "secrets", "actions/secrets", {})
        if answer is not None and answer[2] is not None:
            body = answer[2]
            names = body.get("secrets") if isinstance(body, dict) else None
            if not isinstance(names, list) or body.get("total_count") != len(names):
                answer = None  # not the whole list in one page: crawled below
            else:
                facts = [InventoryFact("actions-secret", full, str(s["name"]), "repo") for s in names]
                answer = (answer[0], replace(answer[1], facts=facts), None)
        if answer is None:
            yield from self.secret_names(stats, repo.get_secrets(), full, "repo")
        else:
            self.inventory_facts.extend(answer[1].facts)
            self.remember(full, answer[0], "secrets", answer[1])
        envs = self.conditional(repo, "environments", "environments", {})
        if envs is not None and (envs[2] is None or envs[2] == {"total_count": 0, "environments": []}):
            self.remember(full, envs[0], "environments", envs[1])
            return
        for env in repo.get_environments():
            yield from self.secret_names(stats, env.get_secrets(), repo.full_name, "environment",
                                         env.name)

    def org_secrets(self, org: Any, stats: ScanStats) -> Iterator[Item]:
        yield from self.secret_names(stats, org.get_secrets(), self.owner, "org")

    def secret_names(self, stats: ScanStats, names: Any, scope: str, level: str,
                     env: str = "") -> Iterator[Item]:
        """Names only (values are write-only). Listing them needs admin rights: a 403 is a counted
        skip, not an incomplete scan, since no value can be missed there."""
        try:
            for s in names:
                self.inventory_facts.append(InventoryFact("actions-secret", scope, s.name, level, env))
        except GithubException as exc:
            if exc.status != 403 or isinstance(exc, RateLimitExceededExceedsMaxWait):
                raise
            stats.skip("secret-names-forbidden")
        yield from ()

    def gists(self, gh: Github, who: Any, stats: ScanStats) -> Iterator[Item]:
        """Every file of every revision; identical content across revisions is one chunk."""
        for listed in who.get_gists():
            gist = gh.get_gist(listed.id)
            by_content: dict[bytes, list[Location]] = {}
            history = gist.history or []
            revisions = [(history[0].version if history else None, gist.files, "live")]
            revisions += [(h.version, h.files, "historical") for h in history[1:]]
            for version, files, state in revisions:
                url = gist.html_url if state == "live" else f"{gist.html_url}/{version}"
                for fname, f in (files or {}).items():
                    content = (f.content or "").encode("utf-8", "surrogatepass")
                    if not content:
                        continue
                    if f.size and len(content) < f.size:  # GitHub truncates files over 1 MB
                        stats.skip("truncated")
                    by_content.setdefault(content, []).append(Location(
                        "github-gist", who.login, f"gists/{gist.id}/{fname}", version, None, state, url))
            for content, locs in by_content.items():
                if len(content) > self.options.max_file_size:
                    stats.skip("too-large")
                    continue
                yield Chunk(content, tuple(sorted(set(locs))), hint=locs[0].path)


_KEPT_URLS = frozenset({"url", "html_url", "clone_url"})


def _lean(raw: dict[str, Any]) -> dict[str, Any]:
    """A repository's listing JSON without GitHub's URL templates (`hooks_url`, `issues_url`...,
    most of its size): PyGithub builds every request from `url`, and the coordinator holds one
    of these per repository until its unit is dispatched."""
    out = {k: v for k, v in raw.items() if not k.endswith("_url") or k in _KEPT_URLS}
    if isinstance(out.get("owner"), dict):
        out["owner"] = {k: v for k, v in out["owner"].items()
                        if not k.endswith("_url") or k in _KEPT_URLS}
    return out


def _collect(items: Any, into: list[Any]) -> Iterator[Item]:
    """Materialise a paginated list into `into` (a generator so `guard` can wrap it)."""
    into.extend(items)
    yield from ()
