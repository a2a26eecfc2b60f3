"""gitleaks allowlists applied as gitleaks documents them: an OR list allows when any criterion it
sets holds (its regexes and stopwords too when it also sets paths, as the stock global list
does); an AND list only when every criterion holds: paths and a `line` regex (the stock
generic-api-key list for Yocto recipes), commits and paths."""

from __future__ import annotations

import subprocess

from detectors.loader import parse_rule_file
from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, run_scan

# Excerpt of the stock gitleaks.toml (gitleaks/gitleaks config/gitleaks.toml at b58d3f1, MIT):
# the tables as shipped, lists cut to a few of their entries; the generic-api-key rule with three
# of its five allowlists, the AND one among them.
STOCK_EXCERPT = r"""
title = "gitleaks config"
minVersion = "v8.25.0"

[allowlist]
description = "global allow lists"
paths = [
    '''gitleaks\.toml''',
    '''(?:^|/)node_modules(?:/.*)?$''',
]
regexes = [
    '''(?i)^true|false|null$''',
    '''^\$(?:[A-Z_]+|[a-z_]+)$''',
]
stopwords = [
    "014df517-39d1-4453-b7b3-9930c563627c",
    "abcdefghijklmnopqrstuvwxyz",
]

[[rules]]
id = "generic-api-key"
description = "Detected a Generic API Key, potentially exposing access to various services and sensitive operations."
regex = '''(?i)[\w.-]{0,50}?(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}([\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})(?:[\x60'"\s;]|\\[nr]|$)'''
entropy = 3.5
keywords = [
    "access",
    "api",
    "auth",
    "key",
    "credential",
    "creds",
    "passwd",
    "password",
    "secret",
    "token",
]
[[rules.allowlists]]
regexes = [
    '''^[a-zA-Z_.-]+$''',
]
[[rules.allowlists]]
regexTarget = "line"
regexes = [
    '''--mount=type=secret,''',
    '''import[ \t]+{[ \t\w,]+}[ \t]+from[ \t]+['"][^'"]+['"]''',
]
[[rules.allowlists]]
condition = "AND"
paths = [
    '''\.bb$''','''\.bbappend$''','''\.bbclass$''','''\.inc$''',
]
regexTarget = "line"
regexes = [
    '''LICENSE[^=]*=\s*"[^"]+''',
    '''LIC_FILES_CHKSUM[^=]*=\s*"[^"]+''',
    '''SRC[^=]*=\s*"[a-zA-Z0-9]+''',
]
"""

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _value(rng, n=22):
    return "".join(rng.choice(ALNUM) for _ in range(n - 2)) + rng.choice("23456789") + rng.choice("ABCXYZ")


def _found(path, cfg):
    result = run_scan([str(path)], ScanOptions(rule_files=(cfg,)))
    return {c.fingerprint: sorted(loc.path for loc in c.locations) for c in result.credentials}


def test_stock_and_list_needs_both_the_path_and_the_line(tmp_path, rng):
    """A recipe's `SRC...= "..."` line is allowed only in a `.bb` file; another value in the
    same recipe, and the same line in another file, are still reported."""
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(STOCK_EXCERPT)
    assert [len(r.allowlists) for r in parse_rule_file(cfg)] == [4]  # three + the global one
    src = tmp_path / "src"
    src.mkdir()
    recipe, other, same_line = _value(rng), _value(rng), _value(rng)
    (src / "linux.bb").write_text(f'SRC_URI_TOKEN = "{recipe}"\nAPI_TOKEN = "{other}"\n')
    (src / "app.conf").write_text(f'SRC_URI_TOKEN = "{same_line}"\n')
    got = _found(src, cfg)
    assert fingerprint(recipe) not in got
    assert got[fingerprint(other)] == ["linux.bb"]
    assert got[fingerprint(same_line)] == ["app.conf"]


def test_stock_global_list_applies_its_regexes_and_stopwords_beside_its_paths(tmp_path, rng):
    """The stock global list sets paths, regexes and stopwords (OR): a secret its regex or a
    stopword allows is dropped anywhere, not only under its paths."""
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(STOCK_EXCERPT)
    src = tmp_path / "src"
    (src / "node_modules").mkdir(parents=True)
    by_regex = _value(rng, 8) + "false" + _value(rng, 9)
    by_stopword = _value(rng, 6) + "014df517-39d1-4453-b7b3-9930c563627c"
    kept, vendored = _value(rng), _value(rng)
    (src / "app.py").write_text(f'api_token = "{by_regex}"\nsecret_key = "{by_stopword}"\n'
                                f'auth_token = "{kept}"\n')
    (src / "node_modules" / "x.js").write_text(f'auth_token = "{vendored}"\n')
    got = _found(src, cfg)
    assert fingerprint(kept) in got
    for value in (by_regex, by_stopword, vendored):
        assert fingerprint(value) not in got


COMMITS_CONFIG = """
[[rules]]
id = "internal-token"
regex = '''\\b(itk_[a-z0-9]{{24}})\\b'''
keywords = ["itk_"]
[[rules.allowlists]]
condition = "AND"
commits = ["{sha}"]
paths = ['''^fixtures/''']
"""


def _git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_and_list_with_commits_and_paths_allows_only_that_commit_there(tmp_path, rng):
    """`commits` AND `paths`: a fixture token committed by the listed commit is allowed; one a
    later commit adds under the same folder, and the listed commit's token elsewhere, are not."""
    def tok():
        return "itk_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "fixtures").mkdir()
    (repo / "src").mkdir()
    listed, elsewhere, later = tok(), tok(), tok()
    (repo / "fixtures" / "a.txt").write_text(f"token: {listed}\n")
    (repo / "src" / "b.txt").write_text(f"token: {elsewhere}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    sha = _git(repo, "rev-parse", "HEAD")
    (repo / "fixtures" / "c.txt").write_text(f"token: {later}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(COMMITS_CONFIG.format(sha=sha))
    assert parse_rule_file(cfg)[0].allowlists[0].commits == (sha,)
    got = _found(repo, cfg)
    assert fingerprint(listed) not in got
    assert got[fingerprint(elsewhere)] == ["src/b.txt"]
    assert got[fingerprint(later)] == ["fixtures/c.txt"]
