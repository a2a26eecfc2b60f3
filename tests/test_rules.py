"""Every rule proves itself: its examples match, its negative examples do not, and a rule file
with a broken rule is refused with a message that names the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from detectors.check import check_rule_examples
from detectors.loader import load_rules, parse_rule_file
from detectors.rule import CATEGORIES
from scanner.cli import main
from scanner.engine import Engine
from scanner.errors import ConfigError

RULES = load_rules()
ENGINE = Engine(RULES)
CASES = [(r, "ex", i, t) for r in RULES for i, t in enumerate(r.examples, 1)] + \
        [(r, "neg", i, t) for r in RULES for i, t in enumerate(r.negative_examples, 1)]


@pytest.mark.parametrize("rule,kind,i,text", CASES, ids=[f"{r.id}:{k}{i}" for r, k, i, _ in CASES])
def test_rule_example(rule, kind, i, text):
    hit = any(m.rule_id == rule.id for m in ENGINE.scan(text.encode()))
    assert hit is (kind == "ex")


def test_every_rule_has_examples_and_unique_id():
    assert len({r.id for r in RULES}) == len(RULES)
    assert all(r.examples for r in RULES)
    assert check_rule_examples(RULES, ENGINE) == []


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "custom.toml"
    p.write_text(body)
    return p


GOOD = '''
[[rule]]
id = "acme.internal"
provider = "acme"
pattern = 'acme_([a-z0-9]{16})'
keywords = ["acme_"]
examples = ["k = acme_a8f3k2m9q7x1z5c4"]
'''


@pytest.mark.parametrize("mutation,message", [
    (("acme_([a-z0-9]{16})", "acme_[a-z0-9]{16}"), "no capture group"),
    (('keywords = ["acme_"]', 'keywords = ["acme_"]\nvalidators = ["nope"]'), "unknown validator 'nope'"),
    (('examples = ["k = acme_a8f3k2m9q7x1z5c4"]', ""), "needs at least one example"),
    (("acme_([a-z0-9]{16})", "acme_([a-z0-9]{16}"), "does not compile"),
    (('provider = "acme"', 'provider = "acme"\nfoo = 1'), "unknown field(s) foo"),
    (('provider = "acme"', 'provider = "acme"\ncategory = "toys"'), "category must be one of"),
])
def test_bad_rule_file_is_refused_naming_the_rule(tmp_path, mutation, message):
    path = _write(tmp_path, GOOD.replace(*mutation))
    with pytest.raises(ConfigError) as err:
        parse_rule_file(path)
    assert message in str(err.value) and "acme.internal" in str(err.value)


def test_duplicate_rule_id_is_refused(tmp_path):
    path = _write(tmp_path, GOOD.replace("acme.internal", "openai.project"))
    with pytest.raises(ConfigError, match="already defined"):
        load_rules([path])


def test_custom_rule_file_is_loaded(tmp_path):
    rules = load_rules([_write(tmp_path, GOOD)])
    assert "acme.internal" in {r.id for r in rules}
    assert check_rule_examples(rules) == []


def test_every_builtin_rule_has_a_category_and_a_source():
    """Built-in rules name a real category (never the `other` fallback) and where their format
    comes from (provider documentation or a public rule set)."""
    assert {r.id for r in RULES if r.category not in CATEGORIES or r.category == "other"} == set()
    assert {r.id for r in RULES if not r.references} == set()


def test_readme_states_the_true_rule_count():
    """The README's catalogue sentence gives the number of rules and categories actually loaded."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    m = re.search(r"built-in catalogue \((\d+) rules in (\d+) categories", readme)
    assert m is not None
    assert (int(m[1]), int(m[2])) == (len(RULES), len({r.category for r in RULES}))


def test_rules_list_groups_rules_by_category():
    """`rules list` prints one header per category with its count, each rule under its own
    category's header, and the total."""
    out = CliRunner().invoke(main, ["rules", "list"])
    assert out.exit_code == 0
    current, seen = None, {}
    for line in out.output.splitlines():
        header = re.match(r"# .* \((\w+)\): (\d+)$", line)
        if header:
            current = header[1]
            seen[current] = int(header[2])
        elif not line.startswith("#"):
            rule_id = line.split("\t")[0]
            assert next(r.category for r in RULES if r.id == rule_id) == current
    assert seen == {c: sum(r.category == c for r in RULES) for c in seen}
    assert sum(seen.values()) == len(RULES)
    assert out.output.rstrip().endswith(f"# {len(RULES)} rules in {len(seen)} categories")


KEYWORD_REACH = 512
"""The engine contract: a rule's keyword occurs inside its match or at most this far before it."""


def test_every_example_match_has_its_keyword_inside_or_just_before():
    """For every built-in rule, each match in its examples has one of the rule's keywords
    (case-insensitive) starting inside the match or at most 512 bytes before it, so a prefilter
    that only looks back 512 bytes from a keyword never loses a finding."""
    import regex

    far = []
    for rule in RULES:
        pattern = regex.compile(rule.pattern)
        for text in rule.examples:
            low = text.lower()
            for m in pattern.finditer(text):
                starts = [i for k in rule.keywords for i in _occurrences(low, k.lower())]
                if not any(m.start() - KEYWORD_REACH <= i < m.end() for i in starts):
                    far.append(rule.id)
    assert far == []


def _occurrences(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out
