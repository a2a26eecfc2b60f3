"""Every rule proves itself: its examples match, its negative examples do not, and a rule file
with a broken rule is refused with a message that names the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.check import check_rule_examples
from detectors.loader import load_rules, parse_rule_file
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
