"""The stock gitleaks configuration imports whole: its path-only rule is skipped and counted, its
global and per-rule allowlists hold, and a rule's `path` limits where it reports."""

from __future__ import annotations

from detectors.loader import parse_rule_file
from scanner.model import fingerprint
from scanner.pipeline import ScanOptions, run_scan

# A faithful subset of the stock gitleaks.toml (gitleaks/gitleaks config/gitleaks.toml): the same
# table shapes, allowlist kinds (global paths / regexes / stopwords; rule regexes on the secret,
# the match and the line; an AND list with paths) and a path-only rule, written for this test.
STOCK_LIKE = r"""
title = "gitleaks config"

[allowlist]
description = "global allow lists"
paths = [
    '''(?:^|/)node_modules(?:/.*)?$''',
    '''(?:^|/)(?:deno\.lock|npm-shrinkwrap\.json|package-lock\.json|pnpm-lock\.yaml|yarn\.lock)$''',
]
regexes = [
    '''^\$(?:[A-Z_]+|[a-z_]+)$''',
    '''^\{\{[ \t]*[\w ().|]+[ \t]*}}$''',
]
stopwords = [
    "014df517-39d1-4453-b7b3-9930c563627c",
]

[[rules]]
id = "aws-access-token"
regex = '''\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b'''
entropy = 3
keywords = ["akia", "asia"]
[[rules.allowlists]]
regexes = [
    '''.+EXAMPLE$''',
]

[[rules]]
id = "freemius-secret-key"
regex = '''(?i)["']secret_key["']\s*=>\s*["'](sk_[\S]{29})["']'''
path = '''(?i)\.php$'''
keywords = ["secret_key"]

[[rules]]
id = "generic-api-key"
regex = '''(?i)[\w.-]{0,50}?(?:secret|token|api_?key)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|:|=>)[\x60'"\s=]{0,5}([\w.=-]{10,150})(?:[\x60'"\s;]|\\[nr]|$)'''
entropy = 3.5
keywords = ["secret", "token", "api"]
[[rules.allowlists]]
regexes = [
    '''^[a-zA-Z_.-]+$''',
]
[[rules.allowlists]]
regexTarget = "match"
regexes = [
    '''(?i)api[_.-]?(?:id|name|version)''',
]
stopwords = [
    "_ec2_",
]
[[rules.allowlists]]
regexTarget = "line"
regexes = [
    '''--mount=type=secret,''',
]
[[rules.allowlists]]
condition = "AND"
paths = [
    '''\.bb$''',
]
regexes = [
    '''^Zz''',
]

[[rules]]
id = "pkcs12-file"
description = "Found a PKCS #12 file"
path = '''(?i)(?:^|\/)[^\/]+\.p(?:12|fx)$'''
"""

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _word(rng, n, alphabet=ALNUM):
    """Random, with a digit (the stock allowlist lets letters-only values through as names)."""
    return "".join(rng.choice(alphabet) for _ in range(n - 1)) + rng.choice("234567")


def test_stock_like_config_imports_with_its_allowlists(tmp_path, rng):
    """Global paths, regexes and stopwords; rule regexes on the secret, the match and the line; an
    AND list (path and secret regex both needed); `.php`-only rule; path-only rule counted."""
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(STOCK_LIKE)
    rules = {r.id: r for r in parse_rule_file(cfg)}
    assert set(rules) == {"aws-access-token", "freemius-secret-key", "generic-api-key"}
    assert len(rules["generic-api-key"].allowlists) == 5  # four of its own + the global one
    src = tmp_path / "src"
    (src / "node_modules" / "lib").mkdir(parents=True)
    kept = {"aws": "AKIA" + _word(rng, 16, B32), "generic": _word(rng, 24),
            "php": "sk_" + _word(rng, 14) + "/" + _word(rng, 14), "bb_other": "Qq" + _word(rng, 22),
            "bb_elsewhere": "Zz" + _word(rng, 22)}
    dropped = {"vendored": _word(rng, 24), "example": "AKIA" + _word(rng, 9, B32) + "EXAMPLE",
               "stop": _word(rng, 8) + "_ec2_" + _word(rng, 8), "mount": _word(rng, 24),
               "bb": "Zz" + _word(rng, 22), "name": _word(rng, 24), "ref": "$API_TOKEN_VALUE"}
    (src / "node_modules" / "lib" / "index.js").write_text(f'const token = "{dropped["vendored"]}";\n')
    (src / "app.py").write_text(
        f'aws = "{kept["aws"]}"\naws_doc = "{dropped["example"]}"\napi_key = "{kept["generic"]}"\n'
        f'api_token = "{dropped["stop"]}"\nRUN --mount=type=secret,id=token={dropped["mount"]} make\n'
        f'api_version_token = "{dropped["name"]}"\nsecret = "{dropped["ref"]}"\n'
        f'$arr = ["secret_key" => "{kept["php"]}"];\napi_token = "{kept["bb_elsewhere"]}"\n')
    (src / "site.php").write_text(f'<?php $c = ["secret_key" => "{kept["php"]}"];\n')
    (src / "recipe.bb").write_text(f'SRC_TOKEN = "{dropped["bb"]}"\napi_token = "{kept["bb_other"]}"\n')
    (src / "cert.p12").write_text("flagged by name only in gitleaks\n")
    result = run_scan([str(src)], ScanOptions(rule_files=(cfg,)))
    got = {c.fingerprint: (c.rule_id, sorted(loc.path for loc in c.locations)) for c in result.credentials}
    for name, value in dropped.items():
        assert fingerprint(value) not in got, name
    assert fingerprint(kept["aws"]) in got
    assert got[fingerprint(kept["php"])] == ("freemius-secret-key", ["site.php"])
    assert got[fingerprint(kept["generic"])][0] == "generic-api-key"
    assert got[fingerprint(kept["bb_other"])] == ("generic-api-key", ["recipe.bb"])
    assert got[fingerprint(kept["bb_elsewhere"])] == ("generic-api-key", ["app.py"])
    assert result.stats.skipped.get("path-only-rule") == 1


def test_bad_allowlist_is_a_configuration_error(tmp_path):
    """A malformed allowlist names the rule (exit 2 at the CLI), like any bad rule."""
    import pytest

    from scanner.errors import ConfigError

    cfg = tmp_path / "g.toml"
    cfg.write_text("[[rules]]\nid = 'r'\nregex = '''x_[a-z]{9}'''\n[[rules.allowlists]]\n"
                   "regexTarget = 'file'\nregexes = ['''a''']\n")
    with pytest.raises(ConfigError, match=r"rule #1 \(r\).*regexTarget"):
        parse_rule_file(cfg)
    cfg.write_text("[[rules]]\nid = 'r'\nregex = '''x_[a-z]{9}'''\n[[rules.allowlists]]\n"
                   "regexes = ['''(unclosed''']\n")
    with pytest.raises(ConfigError, match=r"\(r\).*does not compile"):
        parse_rule_file(cfg)


def test_allowlists_and_skip_count_survive_the_rules_cache(tmp_path, monkeypatch, rng):
    """Rules loaded a second time come from the compiled-rules cache: allowlists are records
    again and the path-only rule is still counted."""
    from detectors import loader
    from detectors.loader import load_rules, skipped_path_only

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cfg = tmp_path / "gitleaks.toml"
    cfg.write_text(STOCK_LIKE)
    first = {r.id: r for r in load_rules([cfg], builtin=False)}
    loader.PATH_ONLY_SKIPPED.clear()
    monkeypatch.setattr(loader, "_load", lambda files: (_ for _ in ()).throw(AssertionError("parsed")))
    second = {r.id: r for r in load_rules([cfg], builtin=False)}
    assert second == first and second["generic-api-key"].allowlists[0].target == "secret"
    assert skipped_path_only([cfg]) == [f"{cfg}: pkcs12-file"]
