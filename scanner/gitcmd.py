"""Every git command sprawlscan runs is built and started here, so that reading a repository
never runs a command that the repository (or the environment it came with) configured. A scanned
repository is untrusted input: its `.git/config` can name programs for git to run (fsmonitor,
hooks, filter and diff drivers, pager, ssh, askpass, gpg...). Three layers keep them inert:

1. Commands: only plumbing that never consults those settings (`cat-file`, `rev-list`,
   `ls-tree`, `diff-tree`, `diff-index`, `diff-files`, `log --raw`, `ls-files`), never `status`,
   `diff`, `log -p`, `checkout` or anything that refreshes or writes the index; diff-like commands
   get `--no-textconv --no-ext-diff` (`DIFF_SAFETY`).
2. Configuration: `-c` overrides (command-line config outranks the repository's) for every key
   that names a program (`SAFE_CONFIG`), plus an empty `filter.<name>.{clean,smudge,process}` for
   every filter driver the repository's config defines (names are repository-chosen, so they are
   read first with `git config`, which runs nothing); all transports are off (`protocol.allow=never`)
   except https/http for forge clones, which also never follow redirects (`clone_config`).
3. Environment: the user's global and system config are not read (`GIT_CONFIG_GLOBAL` and
   `GIT_CONFIG_SYSTEM` are `/dev/null`, `GIT_CONFIG_NOSYSTEM=1`); inherited `GIT_*` variables that
   redirect the repository, its config, its exec path or its programs are dropped (`GIT_DIR`,
   `GIT_WORK_TREE`, `GIT_CONFIG_*`, `GIT_EXEC_PATH`, `GIT_SSH*`, `GIT_ASKPASS`, `GIT_EXTERNAL_DIFF`...);
   no prompt, no pager, no optional locks, no replace objects.

Decisions: a repository is scanned in place, not cloned to a temporary directory first (the
TruffleHog fix): a clone would lose the index and the working tree that `--staged` and the
uncommitted-files pass read, and the layers above already stop every configured program. A `.git`
*file* (`gitdir: ...`, worktrees and submodules) is followed as git follows it when the repository
is named on the command line; a nested one met while walking a folder is followed only when its
`gitdir` lies inside the scanned folder (`scanner.sources.files`). Ownership (`safe.directory`) is
git's own rule, unchanged: the user's `safe.directory` entries (from the global and system config
that the scan itself does not read) are passed on, so a repository owned by another user that the
user has not trusted is refused by git, a failed unit with git's reason."""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SAFE_CONFIG: tuple[str, ...] = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.sshCommand=false",
    "core.pager=cat",
    "core.askPass=",
    "core.editor=false",
    "sequence.editor=false",
    "core.untrackedCache=false",
    "core.gitProxy=false",
    "credential.helper=",
    "gpg.program=false",
    "gpg.ssh.program=false",
    "gpg.x509.program=false",
    "log.showSignature=false",
    "protocol.allow=never",
    "protocol.ext.allow=never",
    "protocol.file.allow=never",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "gc.auto=0",
    "maintenance.auto=false",
)
"""Overrides for every key whose value git runs (or which reaches a transport that runs one)."""

DIFF_SAFETY = ("--no-textconv", "--no-ext-diff")
"""For commands that could compute a diff: no textconv driver, no external diff program."""

PACK_LIMITS = ("core.packedGitLimit=64m", "core.packedGitWindowSize=8m",
               "core.deltaBaseCacheLimit=32m")
"""Config of the history scan's git commands (`config=`): bounded pack windows and delta cache."""
HISTORY_WALK = ("log", "--all", "--reflog", "--reverse", "-c", "--raw", "--no-renames", "--no-abbrev",
                "-z", *DIFF_SAFETY, "--format=%x01%H%x00%an <%ae>%x00%aI")
"""The history scan's walk (`scanner.sources.git_history.parse_log_raw` reads it)."""
OBJECT_LISTING = ("cat-file", "--batch-all-objects", "--unordered",
                  "--batch-check=%(objecttype)%(objectname) %(objectsize)")
"""The history scan's listing of the object store (`git_history.Listing` reads it)."""
HISTORY_READS = ((HISTORY_WALK, PACK_LIMITS), (OBJECT_LISTING, PACK_LIMITS))
"""The two the command line starts ahead of its imports (`scanner.early`), defined here, with
the module every git command line comes from, so that both places run the same ones."""

_KEEP_PREFIXES = ("GIT_SSL_", "GIT_HTTP_", "GIT_PROXY_SSL_")
"""Inherited `GIT_*` variables kept: TLS and HTTP transport settings the user chose."""

_DROP = ("SSH_ASKPASS",)

SAFE_ENV: Mapping[str, str] = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_NO_LAZY_FETCH": "1",  # git >= 2.44; older ones: `is_partial_clone`
}


def environment(extra_config: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    """The environment of every git child: inherited minus what could redirect git, plus
    `SAFE_ENV`; `extra_config` goes in `GIT_CONFIG_COUNT/KEY/VALUE` (out of the command line,
    so a token in it is not visible in the process list)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("GIT_") and not k.startswith(_KEEP_PREFIXES)) and k not in _DROP}
    env.update(SAFE_ENV)
    for i, (key, value) in enumerate(extra_config):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    if extra_config:
        env["GIT_CONFIG_COUNT"] = str(len(extra_config))
    return env


@functools.lru_cache(maxsize=1)
def trusted_directories() -> tuple[str, ...]:
    """The user's own `safe.directory` entries (global and system config, read once), passed on
    so that git's ownership rule is the user's, although the scan does not read that config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")
           or k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM")}
    try:
        proc = subprocess.run(["git", "config", "--null", "--get-all", "safe.directory"],
                              capture_output=True, stdin=subprocess.DEVNULL, env=env, cwd="/",
                              check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(v for v in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if v)


def _config_file(repo: Path) -> Path | None:
    dot = repo / ".git"
    if dot.is_dir():
        return dot / "config"
    if ((repo / "HEAD").is_file() and not (repo / "commondir").exists()
            and ((repo / "config").is_file() or (repo / "objects").is_dir())):
        return repo / "config"  # a bare repository (its config file may be absent)
    return None  # a `.git` file, a linked git directory, or not a repository: not cached


@functools.lru_cache(maxsize=256)
def _drivers_cached(repo: str, stamp: tuple[int, int]) -> tuple[str, ...]:
    return _drivers(Path(repo))


def _drivers(repo: Path) -> tuple[str, ...]:
    """Names of the filter drivers the repository's config defines (reading config runs
    nothing), and `""` first when it is a partial clone (`extensions.partialClone`)."""
    proc = subprocess.run(["git", "-C", str(repo), *_base_config(), "config", "--null",
                           "--name-only", "--get-regexp", r"^(filter\.|extensions\.partialclone$)"],
                          capture_output=True, stdin=subprocess.DEVNULL, env=environment(),
                          check=False)
    names = set()
    for key in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if key.lower() == "extensions.partialclone":
            names.add("")
            continue
        name, dot, _ = key.removeprefix("filter.").rpartition(".")
        if dot and name:
            names.add(name)
    return tuple(sorted(names))


def _config_names(repo: Path) -> tuple[str, ...]:
    cfg = _config_file(repo)
    if cfg is None:
        return _drivers(repo)
    try:
        st = cfg.stat()
    except FileNotFoundError:  # no config file: nothing defined until one appears
        return _drivers_cached(str(repo), (-1, -1))
    except OSError:
        return _drivers(repo)
    return _drivers_cached(str(repo), (st.st_mtime_ns, st.st_size))


def is_partial_clone(repo: Path) -> bool:
    """A partial clone fetches a missing object from its promisor remote when asked for it: read
    only objects known to be present there (`present_objects`)."""
    return "" in _config_names(repo)


def present_objects(repo: Path) -> set[str]:
    """Ids of every object in the repository's own store (listing them fetches nothing)."""
    proc = run(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    return set(proc.stdout.decode("ascii", "replace").split())


def filter_overrides(repo: Path) -> list[str]:
    """`-c filter.<name>.{clean,smudge,process}=` for every filter driver `repo` defines: an
    empty command is no filter at all."""
    args: list[str] = []
    for name in _config_names(repo):
        if not name:
            continue
        for part in ("clean", "smudge", "process"):
            args += ["-c", f"filter.{name}.{part}="]
    return args


def _base_config() -> list[str]:
    args = ["--no-pager"]
    for item in SAFE_CONFIG:
        args += ["-c", item]
    for path in trusted_directories():
        args += ["-c", f"safe.directory={path}"]
    return args


def command(repo: Path | str | None, *args: str, config: Sequence[str] = ()) -> list[str]:
    """argv for `git [-C repo] <safety overrides> <config> args...`."""
    where = ["-C", str(repo)] if repo is not None else []
    extra: list[str] = []
    for item in config:
        extra += ["-c", item]
    drivers = filter_overrides(Path(repo)) if repo is not None else []
    return ["git", *where, *_base_config(), *drivers, *extra, *args]


def run(repo: Path | str | None, *args: str, config: Sequence[str] = (),
        input: bytes | None = None, env_config: Sequence[tuple[str, str]] = (),
        timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run one git command to completion (stdout and stderr captured, never a terminal)."""
    return subprocess.run(command(repo, *args, config=config), input=input, capture_output=True,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          env=environment(env_config), check=False, timeout=timeout)


def popen(repo: Path | str, *args: str, config: Sequence[str] = (), **kwargs: Any
          ) -> subprocess.Popen[bytes]:
    """Start one long-running git command (a `cat-file` stream); `kwargs` go to `Popen`."""
    return subprocess.Popen(command(repo, *args, config=config), env=environment(), **kwargs)


def subcommand(args: Sequence[str]) -> str:
    """The git command's name in `args` (global options such as `--work-tree X` skipped)."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in ("--work-tree", "--git-dir", "-c") else rest[1:]
    return rest[0] if rest else "?"


def reason(stderr: bytes) -> str:
    """git's reason for a failure in one line: its first `fatal:`/`error:` line (git explains
    some refusals over several lines, e.g. dubious ownership), else its last line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "")


# -- clones from forges ----------------------------------------------------------------------
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class UnsafeURL(ValueError):
    """A clone URL that sprawlscan refuses to hand to git."""


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80 if scheme == "http" else 0)
    except ValueError:
        raise UnsafeURL(f"{url!r}: bad port") from None
    return scheme, (parts.hostname or "").lower(), port


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def check_clone_url(url: str, forge_url: str) -> str:
    """`url` when it may be cloned for the forge at `forge_url` (its API or web address): https,
    or http on a loopback address only, on the forge's own host and port (`api.` dropped:
    `api.github.com` clones from `github.com`); anything else raises `UnsafeURL`. The URL cannot
    start with `-`, so it is never read as an option."""
    scheme, host, port = origin(url)
    if scheme not in ("https", "http") or not host:
        raise UnsafeURL(f"clone URL refused: scheme {scheme or 'none'!r} (https only)")
    if scheme == "http" and not is_loopback(host):
        raise UnsafeURL(f"clone URL refused: plain http to {host} (https only off loopback)")
    f_scheme, f_host, f_port = origin(forge_url)
    allowed = {(f_host, f_port), (f_host.removeprefix("api."), f_port)}
    if (host, port) not in allowed:
        raise UnsafeURL(f"clone URL refused: host {host}:{port} is not the forge's "
                        f"({f_host}:{f_port}); the token is not sent there")
    return url


def clone_config() -> list[str]:
    """Transports a forge clone or fetch may use: https, and http (loopback, checked before)."""
    return ["protocol.https.allow=always", "protocol.http.allow=always",
            "http.followRedirects=false"]
