"""Custom rules: a gitleaks config is imported and scans; `rules check` names bad rules clearly."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from detectors.loader import load_rules, parse_rule_file
from scanner.cli import main
from scanner.errors import ConfigError
from scanner.model import fingerprint

GITLEAKS = '''
title = "acme gitleaks config"

[[rules]]
id = "acme-internal-token"
description = "ACME internal service token"
regex = \'\'\'(?i)acme[_-]?token\\s*[=:]\\s*["']?(acm_[a-z0-9]{32})\'\'\'
secretGroup = 1
entropy = 3.0
keywords = ["acm_"]

[[rules]]
id = "acme-session"
description = "ACME session id, whole match"
regex = \'\'\'acmsess_[A-Z0-9]{24}\'\'\'
'''


def test_gitleaks_config_is_converted(tmp_path):
    """`[[rules]]` tables become rules: regex, secretGroup, entropy, keywords; no examples needed."""
    path = tmp_path / "gitleaks.toml"
    path.write_text(GITLEAKS)
    token, session = parse_rule_file(path)
    assert (token.id, token.origin, token.secret_group, token.min_entropy, token.keywords) == \
        ("acme-internal-token", "gitleaks", 1, 3.0, ("acm_",))
    assert (session.keywords, session.secret_group, session.examples) == ((), None, ())


def test_scan_with_gitleaks_rules(tmp_path, rng):
    """`scan --rules gitleaks.toml` reports the capture group, and a keyword-less rule still runs."""
    path = tmp_path / "gitleaks.toml"
    path.write_text(GITLEAKS)
    secret = "acm_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32))
    session = "acmsess_" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(24))
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.env").write_text(f"ACME_TOKEN={secret}\nSESSION={session}\n")
    res = CliRunner().invoke(main, ["scan", "--format", "json", "--rules", str(path), str(src)])
    assert res.exit_code == 1, res.output
    found = {f["rule_id"]: f["secret_sha256"] for f in json.loads(res.output)["findings"]}
    assert found == {"acme-internal-token": fingerprint(secret), "acme-session": fingerprint(session)}


def test_our_format_cannot_waive_examples(tmp_path):
    """Only the gitleaks format waives examples: `origin` is not a field of ours."""
    path = tmp_path / "r.toml"
    path.write_text("[[rule]]\nid='a.b'\nprovider='a'\npattern='(x{9})'\nkeywords=['x']\norigin='gitleaks'\n")
    with pytest.raises(ConfigError, match="unknown field"):
        parse_rule_file(path)


def test_rules_check_names_every_bad_rule(tmp_path):
    """A file with several broken rules exits 2 with one line naming each failing rule id."""
    path = tmp_path / "bad.toml"
    path.write_text("[[rule]]\nid='acme.one'\nprovider='acme'\npattern='acme_([a-z]{8}'\nkeywords=['acme_']\n"
                    "examples=['acme_abcdefgh']\n\n[[rule]]\nid='acme.two'\nprovider='acme'\n"
                    "pattern='acme2_([a-z]{8})'\nkeywords=['acme2_']\n")
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "2 bad rules" in line and "acme.one" in line and "does not compile" in line
    assert "acme.two" in line and "needs at least one example" in line


def test_rules_check_refuses_an_id_clashing_with_a_builtin(tmp_path):
    """A custom rule may not reuse a built-in id."""
    path = tmp_path / "dup.toml"
    path.write_text("[[rule]]\nid='openai.project'\nprovider='x'\npattern='(x{9})'\nkeywords=['x']\nexamples=['xxxxxxxxx']\n")
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 2 and "already defined" in res.output


def test_rules_check_on_gitleaks_config_lists_unchecked_rules(tmp_path):
    """Imported rules without examples are listed, not silently counted as passing."""
    path = tmp_path / "gitleaks.toml"
    path.write_text(GITLEAKS)
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 0
    assert "no examples to check (imported): acme-internal-token, acme-session" in res.output


def test_gitleaks_path_only_rule_is_skipped_and_counted(tmp_path):
    """A gitleaks rule with no regex (it flags a file by name) is skipped, not a reason to refuse
    the whole config; `rules check` warns and names it; a rule with neither is still refused."""
    path = tmp_path / "g.toml"
    path.write_text("[[rules]]\nid = 'pkcs12-file'\npath = '''\\.p12$'''\n" + GITLEAKS)
    assert [r.id for r in parse_rule_file(path)] == ["acme-internal-token", "acme-session"]
    res = CliRunner().invoke(main, ["rules", "check", str(path)])
    assert res.exit_code == 0
    assert "1 path-only gitleaks rule(s) skipped" in res.stderr and "pkcs12-file" in res.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]]\nid = 'x'\n")
    with pytest.raises(ConfigError, match=r"\(x\): no 'regex'"):
        load_rules([bad])
