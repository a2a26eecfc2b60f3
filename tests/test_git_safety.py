"""Scanning an untrusted repository runs none of the programs it configures (`scanner.gitcmd`).

Each vector plants, in a real repository made with git, a command that would create a marker file
(`.git/config` keys, hooks, `.gitattributes` drivers, a signed commit, a promisor remote whose
lazy fetch would run ssh / askpass / a credential helper / the `ext::` transport, or the `GIT_*`
environment the scan inherits); the repository is then scanned in every mode that reads git
(the path itself, nested in a scanned folder, `git:PATH`, `--staged`, `--diff BASE..HEAD`,
`--since-commit REV`, and the graph's own reading of HEAD). No marker may appear, and the planted
synthetic credential is still found. Vectors that git itself reaches only through a terminal or
a command sprawlscan never runs (pager, editor, packObjectsHook) are kept as guards."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tokens import github
from conftest import GitHTTP
from fake_api import FakeAPI
from pytest_httpserver import HTTPServer
from test_gitlab_group import group  # noqa: F401 - a fixture
from werkzeug import Response

from scanner import gitcmd
from scanner.cli import main
from scanner.model import fingerprint

MODES = ("direct", "nested", "git", "staged", "diff", "since", "graph")
HOOKS = ("post-index-change", "pre-commit", "post-checkout", "reference-transaction",
         "pre-auto-gc", "post-rewrite", "fsmonitor-watchman", "pre-push", "post-merge")


class Planted:
    """A repository holding a committed and a staged credential, with its markers' folder."""

    def __init__(self, tmp_path: Path, make_repo: Callable, rng) -> None:
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.markers = tmp_path / "markers"
        self.markers.mkdir()
        self.committed, self.staged = github(rng), github(rng, "ghs")
        r = make_repo("work/victim")
        self.repo = r
        r.write(".gitattributes", "* filter=evil diff=evil\n")
        r.write("README.md", "hello\n")
        r.commit("base")
        self.base = r.git("rev-parse", "HEAD").strip()
        r.write("conf.env", f"TOKEN={self.committed}\n")
        r.write("lost.txt", f"content that only a lazy fetch could bring back {rng.random()}\n")
        r.commit("add config")
        self.sign_head()
        r.write("staged.env", f"STAGED={self.staged}\n")
        r.git("add", "staged.env")
        r.write("README.md", "hello, edited\n")  # a modified tracked file
        r.write("notes.txt", "untracked\n")
        os.utime(self.path / "conf.env", (1, 1))  # stat-dirty: a refresh would re-read it

    @property
    def path(self) -> Path:
        return self.repo.path

    def sign_head(self) -> None:
        """HEAD becomes a commit carrying a (fake) PGP signature, as a signed commit does."""
        raw = self.repo.git("cat-file", "commit", "HEAD")
        head, _, msg = raw.partition("\n\n")
        sig = ("gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEfakefakefake\n"
               " -----END PGP SIGNATURE-----")
        signed = f"{head}\n{sig}\n\n{msg}"
        new = self.repo.git("hash-object", "-t", "commit", "-w", "--stdin", input_text=signed).strip()
        self.repo.git("update-ref", "refs/heads/main", new)

    def marker(self, name: str) -> Path:
        return self.markers / name

    def touch(self, name: str) -> str:
        return f"touch {shlex.quote(str(self.marker(name)))}"

    def config(self, key: str, value: str) -> None:
        subprocess.run(["git", "config", "--file", str(self.path / ".git" / "config"), key, value],
                       check=True)

    def hooks(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for hook in HOOKS:
            f = folder / hook
            f.write_text(f"#!/bin/sh\n{self.touch(hook)}\n")
            f.chmod(f.stat().st_mode | stat.S_IEXEC)

    def partial(self, url: str) -> None:
        """A promisor remote and one blob gone from the object store: reading that blob makes
        git fetch it lazily from `url`."""
        blob = self.repo.git("rev-parse", "HEAD:lost.txt").strip()
        (self.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
        self.config("core.repositoryformatversion", "1")
        self.config("extensions.partialClone", "origin")
        self.config("remote.origin.promisor", "true")
        self.config("remote.origin.url", url)

    def created(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir())


def _ssh(p: Planted, ctx: dict) -> None:
    p.partial("ssh://git@127.0.0.1:1/acme/victim.git")
    p.config("core.sshCommand", p.touch("ssh") + "; false")


def _askpass(p: Planted, ctx: dict) -> None:
    p.partial(ctx["denied_url"])
    p.config("core.askPass", str(ctx["script"](p.touch("askpass") + "; echo x")))


def _credential(p: Planted, ctx: dict) -> None:
    p.partial(ctx["denied_url"])
    p.config("credential.helper", "!" + p.touch("credential") + "; true")


def _ext(p: Planted, ctx: dict) -> None:
    p.partial("ext::sh -c " + p.touch("ext").replace(" ", "% "))
    p.config("protocol.ext.allow", "always")


def _gpg(p: Planted, ctx: dict) -> None:
    p.config("log.showSignature", "true")
    p.config("gpg.program", str(ctx["script"](p.touch("gpg") + "; exit 1")))


def _env(p: Planted, ctx: dict) -> None:
    """The scan's own environment: command-line config, a global config, a redirected GIT_DIR."""
    mp: pytest.MonkeyPatch = ctx["monkeypatch"]
    p.hooks(p.markers.parent / "env-hooks")
    glob = p.markers.parent / "global.gitconfig"
    glob.write_text(f"[core]\n\thooksPath = {p.markers.parent / 'env-hooks'}\n"
                    f"\tfsmonitor = {p.touch('global-fsmonitor')}\n")
    decoy = p.markers.parent / "decoy"
    subprocess.run(["git", "init", "-q", str(decoy)], check=True)
    for k, v in {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "core.fsmonitor",
                 "GIT_CONFIG_VALUE_0": p.touch("env-fsmonitor"),
                 "GIT_CONFIG_KEY_1": "filter.evil.clean", "GIT_CONFIG_VALUE_1": p.touch("env-clean"),
                 "GIT_CONFIG_GLOBAL": str(glob), "GIT_DIR": str(decoy / ".git"),
                 "GIT_WORK_TREE": str(decoy), "GIT_EXTERNAL_DIFF": p.touch("env-extdiff"),
                 "GIT_SSH_COMMAND": p.touch("env-ssh"), "GIT_PAGER": p.touch("env-pager"),
                 "GIT_ASKPASS": p.touch("env-askpass")}.items():
        mp.setenv(k, v)


VECTORS: dict[str, Callable[[Planted, dict], None]] = {
    "fsmonitor": lambda p, c: p.config("core.fsmonitor", p.touch("fsmonitor")),
    "hooks": lambda p, c: p.hooks(p.path / ".git" / "hooks"),
    "hooksPath": lambda p, c: (p.hooks(p.markers.parent / "hooks"),
                               p.config("core.hooksPath", str(p.markers.parent / "hooks"))),
    "sshCommand": _ssh,
    "pager": lambda p, c: (p.config("core.pager", p.touch("pager")),
                           p.config("pager.log", p.touch("pager-log"))),
    "askPass": _askpass,
    "credential.helper": _credential,
    "editor": lambda p, c: (p.config("core.editor", p.touch("editor")),
                            p.config("sequence.editor", p.touch("seq-editor"))),
    "diff.external": lambda p, c: p.config("diff.external", p.touch("extdiff")),
    "textconv": lambda p, c: p.config("diff.evil.textconv", p.touch("textconv") + "; cat"),
    "diff.command": lambda p, c: p.config("diff.evil.command", p.touch("diffcmd")),
    "filter.clean": lambda p, c: p.config("filter.evil.clean", p.touch("clean") + "; cat"),
    "filter.smudge": lambda p, c: p.config("filter.evil.smudge", p.touch("smudge") + "; cat"),
    "filter.process": lambda p, c: p.config("filter.evil.process", p.touch("process")),
    "gpg.program": _gpg,
    "packObjectsHook": lambda p, c: p.config("uploadpack.packObjectsHook", p.touch("packobjects")),
    "ext": _ext,
    "env": _env,
}


@pytest.fixture
def ctx(httpserver, tmp_path, monkeypatch) -> dict:
    """What some vectors need: a server that answers 401 (so git asks for credentials), a way to
    make an executable script, the monkeypatch for environment vectors."""
    httpserver.expect_request("/denied.git/info/refs").respond_with_handler(
        lambda r: Response("denied", status=401, headers={"WWW-Authenticate": 'Basic realm="x"'}))

    def script(body: str) -> Path:
        f = tmp_path / f"script{len(list(tmp_path.glob('script*')))}.sh"
        f.write_text(f"#!/bin/sh\n{body}\n")
        f.chmod(0o755)
        return f

    return {"denied_url": httpserver.url_for("/denied.git"), "script": script,
            "monkeypatch": monkeypatch}


def scan(p: Planted, mode: str) -> tuple[int, str]:
    """Exit code and output (JSON report, or the graph's JSON) of one scan in `mode`."""
    args = {"direct": [str(p.path)], "nested": [str(p.work)], "git": [f"git:{p.path}"],
            "staged": ["--staged", str(p.path)], "diff": ["--diff", f"{p.base}..HEAD", str(p.path)],
            "since": ["--since-commit", p.base, str(p.path)]}
    if mode == "graph":
        out = p.markers.parent / "graph.json"
        res = CliRunner().invoke(main, ["graph", "--format", "json", "-o", str(out), str(p.path)])
        return res.exit_code, out.read_text() if out.exists() else res.output
    res = CliRunner().invoke(main, ["scan", "--format", "json", *args[mode]])
    return res.exit_code, res.stdout


@pytest.mark.parametrize("vector", list(VECTORS))
def test_no_configured_program_runs_in_any_mode(vector, tmp_path, make_repo, rng, ctx):
    """The planted program runs in no scan mode, and the planted credential is still found."""
    p = Planted(tmp_path, make_repo, rng)
    VECTORS[vector](p, ctx)
    for mode in MODES:
        code, out = scan(p, mode)
        assert p.created() == [], f"{vector}: {mode} ran {p.created()}"
        want = p.staged if mode == "staged" else p.committed
        if mode == "graph":
            assert code == 0, out
            assert fingerprint(want) in out, f"{vector}: {mode} lost the credential"
            continue
        assert code == 1, f"{vector}: {mode}: exit {code}: {out[-300:]}"
        found = {f["secret_sha256"] for f in json.loads(out)["findings"]}
        assert fingerprint(want) in found, f"{vector}: {mode} lost the credential"


def test_vectors_are_live_without_the_safety_layer(tmp_path, make_repo, rng, ctx):
    """The planted programs are real: plain git, run as the scanner used to (`status`, `log`
    showing signatures, reading a blob lost from a partial clone), creates the markers."""
    p = Planted(tmp_path, make_repo, rng)
    p.config("core.fsmonitor", p.touch("fsmonitor"))
    p.config("filter.evil.clean", p.touch("clean") + "; cat")
    p.hooks(p.path / ".git" / "hooks")
    _gpg(p, ctx)
    _ssh(p, ctx)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    lost = subprocess.run(["git", "-C", str(p.path), "rev-parse", "HEAD:lost.txt"], env=env,
                          capture_output=True, text=True).stdout.strip()
    for args in (["status", "--porcelain"], ["log", "--format=%H"],
                 ["cat-file", "--batch-check"]):
        subprocess.run(["git", "-C", str(p.path), *args], env=env, capture_output=True,
                       input=(lost + "\n").encode(), check=False)
    assert {"fsmonitor", "clean", "post-index-change", "gpg", "ssh"} <= set(p.created())


def test_nested_gitdir_file_pointing_outside_is_not_followed(tmp_path, make_repo, rng):
    """A `.git` file inside a scanned folder whose `gitdir:` points outside that folder is not
    read as a repository (the other repository's history is not scanned); one the user names
    directly is followed, as git follows it."""
    outside = make_repo("elsewhere")
    key = github(rng)
    outside.write("k.env", f"K={key}\n")
    outside.commit("k")
    folder = tmp_path / "sent"
    (folder / "proj").mkdir(parents=True)
    (folder / "proj" / ".git").write_text(f"gitdir: {outside.path / '.git'}\n")
    (folder / "proj" / "a.txt").write_text("plain\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(folder)])
    doc = json.loads(res.stdout)
    assert fingerprint(key) not in {f["secret_sha256"] for f in doc["findings"]}
    assert doc["summary"]["skipped"].get("gitdir-outside-root") == 1
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(folder / "proj")])
    assert fingerprint(key) in {f["secret_sha256"] for f in json.loads(res.stdout)["findings"]}


def test_worktree_pass_reads_only_what_differs_from_head(make_repo, rng, tmp_path):
    """Without `git status`: a stat-dirty file with HEAD's content is not re-reported, an edited
    tracked file, a staged-only change and an untracked file are read from disk, a deleted file
    is no error."""
    old, edited, untracked = github(rng), github(rng, "gho"), github(rng, "ghu")
    r = make_repo("wt")
    r.write("same.env", f"A={old}\n")
    r.write("edit.env", "B=1\n")
    r.write("gone.txt", "x\n")
    r.commit("init")
    os.utime(r.path / "same.env", (1, 1))
    r.write("edit.env", f"B={edited}\n")
    r.write("new.env", f"C={untracked}\n")
    (r.path / "gone.txt").unlink()
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(r.path)])
    doc = json.loads(res.stdout)
    assert doc["summary"]["errors"] == [] and doc["summary"]["skipped"] == {}
    live = {(loc["path"], loc["commit"]) for f in doc["findings"] for loc in f["locations"]}
    assert live == {("same.env", live_commit(doc, "same.env")), ("edit.env", None),
                    ("new.env", None)}


def live_commit(doc: dict, path: str) -> str:
    [commit] = {loc["commit"] for f in doc["findings"] for loc in f["locations"]
                if loc["path"] == path}
    return commit


def test_every_process_is_started_by_gitcmd():
    """No module but `scanner.gitcmd` starts a process: a git call added elsewhere would bypass
    the safety overrides and the cleaned environment."""
    root = Path(__file__).resolve().parent.parent
    spawners = ("subprocess.run(", "subprocess.Popen(", "check_output(", "check_call(",
                "os.system(", "os.popen(", "os.exec", "os.spawn", "pty.spawn(")
    offenders = [f"{p.relative_to(root)}: {s}" for d in ("scanner", "detectors")
                 for p in sorted((root / d).rglob("*.py")) if p.name != "gitcmd.py"
                 for s in spawners if s in p.read_text(encoding="utf-8")]
    assert offenders == []


# -- forge clones ------------------------------------------------------------------------------
@pytest.mark.parametrize("url,forge,ok", [
    ("https://github.com/acme/x.git", "https://api.github.com", True),
    ("https://ghe.example/acme/x.git", "https://ghe.example/api/v3", True),
    ("https://gitlab.example/acme/x.git", "https://gitlab.example", True),
    ("http://127.0.0.1:8080/acme/x.git", "http://127.0.0.1:8080", True),
    ("--upload-pack=touch /tmp/x", "https://api.github.com", False),
    ("file:///srv/acme/x.git", "https://api.github.com", False),
    ("ssh://git@github.com/acme/x.git", "https://api.github.com", False),
    ("git@github.com:acme/x.git", "https://api.github.com", False),
    ("ext::sh -c touch% /tmp/x", "https://api.github.com", False),
    ("http://github.com/acme/x.git", "https://api.github.com", False),
    ("https://evil.example/acme/x.git", "https://api.github.com", False),
    ("https://github.com:444/acme/x.git", "https://api.github.com", False),
    ("http://127.0.0.1:8081/acme/x.git", "http://127.0.0.1:8080", False),
])
def test_clone_url_rule(url, forge, ok):
    """https (http on loopback only), on the forge's own host and port; nothing else."""
    if ok:
        assert gitcmd.check_clone_url(url, forge) == url
    else:
        with pytest.raises(gitcmd.UnsafeURL):
            gitcmd.check_clone_url(url, forge)


@pytest.fixture
def small_org(httpserver, make_repo, bare_clone):
    """acme with one ordinary repository (`tools`, clean) served over HTTP on the API's host;
    tests add hostile ones."""
    from test_github_org import repo_json, serve_repo

    api = FakeAPI(httpserver)
    tools = make_repo("tools")
    tools.write("README.md", "tools\n")
    tools.commit("init")
    repos = [repo_json(api, "tools", bare_clone(tools))]
    serve_repo(api, "tools")
    api.json("/users/acme", {"login": "acme", "id": 1, "type": "Organization",
                             "url": api.url("/users/acme")})
    api.json("/orgs/acme", {"login": "acme", "id": 1, "url": api.url("/orgs/acme")})
    api.json("/orgs/acme/actions/secrets", {"total_count": 0, "secrets": []})
    api.json("/orgs/acme/members", [])

    def add(name: str, clone_url: str, full_name: str | None = None) -> None:
        repos.append({**repo_json(api, name, clone_url),
                      "full_name": f"acme/{name}" if full_name is None else full_name})
        serve_repo(api, name)
        api.json("/orgs/acme/repos", repos)

    api.json("/orgs/acme/repos", repos)
    return api, add


def org_scan(api: FakeAPI, cache: Path) -> tuple[int, dict]:
    from test_github_org import TOKEN

    res = CliRunner(env={"GITHUB_TOKEN": TOKEN}).invoke(main, [
        "scan", "--format", "json", "--github-url", api.base, "--cache-dir", str(cache),
        "github:acme"])
    return res.exit_code, json.loads(res.stdout)


def test_clone_url_that_is_an_option_runs_nothing(small_org, tmp_path):
    """`clone_url: "--upload-pack=touch MARKER"` is refused before git sees it: no marker, the
    repository is a failed unit naming the reason, the other repository is cloned, exit 3."""
    api, add = small_org
    marker = tmp_path / "MARKER"
    add("evil", f"--upload-pack=touch {marker}")
    code, doc = org_scan(api, tmp_path / "cache")
    assert not marker.exists()
    assert code == 3 and doc["incomplete"]
    assert [e for e in doc["summary"]["errors"] if "acme/evil clone" in e] == [
        "acme/evil clone: clone URL refused: scheme 'none' (https only)"]
    assert (tmp_path / "cache" / "github").rglob("tools.git")


def test_clone_url_on_another_host_never_receives_the_token(small_org, make_repo, tmp_path):
    """A clone URL on another host (here another loopback port) is refused: a failed unit, exit 3,
    and that server receives no request at all, so no token."""
    api, add = small_org
    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        (tmp_path / "other").mkdir()
        served = GitHTTP(other, tmp_path / "other")
        r = make_repo("stolen")
        r.write("a.txt", "a\n")
        r.commit("a")
        subprocess.run(["git", "clone", "-q", "--bare", str(r.path),
                        str(tmp_path / "other" / "stolen.git")], check=True, capture_output=True)
        add("stolen", served.url("stolen"))
        code, doc = org_scan(api, tmp_path / "cache")
        assert code == 3
        [err] = [e for e in doc["summary"]["errors"] if "acme/stolen clone" in e]
        assert "is not the forge's" in err
        assert served.auth == [] and other.log == []
    finally:
        other.clear()
        other.stop()


@pytest.mark.parametrize("full_name", ["acme/..", "..", "", "acme/", "acme/./x"])
def test_unusable_repository_name_is_a_named_skip(small_org, tmp_path, full_name):
    """A forge repository named `..`, empty, or with an empty or dot segment is skipped with its
    reason; the other repository is still scanned; the scan is incomplete (exit 3)."""
    api, add = small_org
    add("dots", "http://127.0.0.1:1/never.git", full_name=full_name)
    code, doc = org_scan(api, tmp_path / "cache")
    assert code == 3, doc
    assert doc["summary"]["errors"] == [
        f"repository {full_name!r} skipped: unusable name (empty, '.' or '..' path segment)"]
    assert [p.name for p in (tmp_path / "cache").rglob("*.git")] == ["tools.git"]


def test_gitlab_project_named_dotdot_and_foreign_clone_host(group, monkeypatch, httpserver):
    """GitLab: a project whose path is `acme/..` is a named skip, one whose clone URL is on
    another host a failed clone; the rest of the group is still scanned."""
    from test_gitlab_group import API, project_json
    from test_gitlab_group import scan as gitlab_scan

    api, s, cache = group
    page1 = api.routes[(f"{API}/groups/1/projects", "1")]
    page2 = api.routes[(f"{API}/groups/1/projects", "2")]
    api.routes[(f"{API}/groups/1/projects", "1")] = (
        page1[0], page1[1] + [project_json(12, "acme/..", "http://127.0.0.1:1/x.git")], page1[2])
    api.routes[(f"{API}/groups/1/projects", "2")] = (
        page2[0], [{**page2[1][0], "http_url_to_repo": "http://127.0.0.1:1/acme/deployer.git"}],
        page2[2])
    result = gitlab_scan(api, cache, monkeypatch)
    errors = result.stats.errors
    assert "project 'acme/..' skipped: unusable name (empty, '.' or '..' path segment)" in errors
    assert any(e.startswith("acme/platform/deployer clone: clone URL refused: host 127.0.0.1:1")
               for e in errors)
    assert len(errors) == 2 and result.incomplete
    assert fingerprint(s["dup"]) in {c.fingerprint for c in result.credentials}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository another owner")
def test_ownership_is_gits_rule_with_the_users_safe_directories(make_repo, rng, tmp_path,
                                                                monkeypatch):
    """A repository owned by another user is refused by git (a failed unit naming git's reason,
    exit 3) unless the user's own global config lists it in `safe.directory`, which the scan
    honours although it reads no other global setting."""
    key = github(rng)
    r = make_repo("theirs")
    r.write("k.env", f"K={key}\n")
    r.commit("k")
    subprocess.run(["chown", "-R", "65534:65534", str(r.path)], check=True)
    gitcmd.trusted_directories.cache_clear()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none.gitconfig"))
    res = CliRunner().invoke(main, ["scan", "--format", "json", str(r.path)])
    doc = json.loads(res.stdout)
    assert res.exit_code == 3 and doc["findings"] == []
    assert any("detected dubious ownership" in e for e in doc["summary"]["errors"])
    (tmp_path / "user.gitconfig").write_text(f"[safe]\n\tdirectory = {r.path}\n"
                                             f"[core]\n\tfsmonitor = touch {tmp_path / 'M'}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "user.gitconfig"))
    gitcmd.trusted_directories.cache_clear()
    try:
        res = CliRunner().invoke(main, ["scan", "--format", "json", str(r.path)])
    finally:
        gitcmd.trusted_directories.cache_clear()
    assert res.exit_code == 1
    assert fingerprint(key) in {f["secret_sha256"] for f in json.loads(res.stdout)["findings"]}
    assert not (tmp_path / "M").exists()


@pytest.mark.parametrize("vector", ["sshCommand", "askPass", "credential.helper", "ext"])
def test_lazy_fetch_of_a_missing_object_reaches_no_transport(vector, tmp_path, make_repo, rng,
                                                             ctx):
    """Even asked directly for an object a partial clone lacks (which the sources avoid), a git
    command built by `gitcmd` runs none of the planted programs: every transport is off."""
    p = Planted(tmp_path, make_repo, rng)
    VECTORS[vector](p, ctx)
    lost = p.repo.git("rev-parse", "HEAD:lost.txt").strip()
    present = p.repo.git("rev-parse", "HEAD:conf.env").strip()
    assert gitcmd.is_partial_clone(p.path) and lost not in gitcmd.present_objects(p.path)
    proc = gitcmd.run(p.path, "cat-file", "--batch-check", input=f"{lost}\n{present}\n".encode())
    assert p.created() == []
    assert proc.stdout.decode().splitlines()[0] == f"{lost} missing"


def test_a_bare_repository_without_config_is_read_once_until_a_config_appears(tmp_path, monkeypatch):
    """A bare repository with no `config` file (a mirror's object store) asks git for its filter
    drivers once, not before every command; a config file written later, defining a driver, is
    read at the next command and the driver neutralised."""
    repo = tmp_path / "bare"
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True)
    (repo / "config").unlink()
    calls = []
    real = gitcmd._drivers
    monkeypatch.setattr(gitcmd, "_drivers", lambda r: calls.append(r) or real(r))
    for _ in range(3):
        assert gitcmd.filter_overrides(repo) == []
    assert len(calls) == 1
    (repo / "config").write_text('[filter "evil"]\n\tprocess = touch marker\n')
    assert "filter.evil.process=" in gitcmd.filter_overrides(repo)
    assert len(calls) == 2
