"""The compiled-rules cache (`detectors.cache`): a second load gives the very same rules from the
cache, an edited rule file is never served stale, and a corrupt or foreign cache file is ignored
and rewritten (never trusted); the Hyperscan keyword database is cached the same way."""

from __future__ import annotations

import pytest

from detectors import cache
from detectors.loader import load_rules
from scanner.engine import Engine
from tokens import github

CUSTOM = """[[rule]]
id = "acme.token"
provider = "acme"
pattern = '''\\b(acme_[a-z0-9]{{{n}}})\\b'''
keywords = ["acme_"]
examples = ["t = acme_{example}"]
"""


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "sprawlscan"


def test_second_load_comes_from_the_cache_and_is_identical(cache_home, monkeypatch):
    fresh = load_rules(cache=False)
    first = load_rules()
    [entry] = cache_home.glob("rules-*.cache")
    monkeypatch.setattr("detectors.loader._load", lambda files: pytest.fail("cache not used"))
    assert load_rules() == first == fresh
    assert not list(cache_home.glob("*.tmp")) and not list(cache_home.glob(".*"))


def test_an_edited_rule_file_is_never_served_stale(tmp_path):
    path = tmp_path / "acme.toml"
    path.write_text(CUSTOM.format(n=8, example="a1b2c3d4"))
    [before] = [r for r in load_rules([path]) if r.id == "acme.token"]
    path.write_text(CUSTOM.format(n=10, example="a1b2c3d4e5"))
    [after] = [r for r in load_rules([path]) if r.id == "acme.token"]
    assert "{8}" in before.pattern and "{10}" in after.pattern


@pytest.mark.parametrize("damage", ["flip", "truncate", "other-key", "bad-json"])
def test_a_corrupt_cache_is_ignored_and_rewritten(cache_home, damage):
    good = load_rules()
    [file] = cache_home.glob("rules-*.cache")
    raw = file.read_bytes()
    if damage == "flip":  # one byte of the payload changed: the checksum no longer holds
        i = len(raw) // 2
        file.write_bytes(raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:])
    elif damage == "truncate":
        file.write_bytes(raw[: len(raw) // 3])
    elif damage == "other-key":  # the payload of another rule set under this entry's name
        key = cache.rules_key(__import__("detectors.loader").loader.builtin_rule_files())
        body = b"f" * 64 + b"\n" + raw.partition(b"\n")[2].partition(b"\n")[2]
        file.write_bytes(__import__("hashlib").sha256(body).hexdigest().encode() + b"\n" + body)
        assert key.encode() not in file.read_bytes()
    else:  # a valid checksum over a payload that is not rules
        key = cache.rules_key(__import__("detectors.loader").loader.builtin_rule_files())
        cache.store("rules", key, b'[{"id": 1, "evil": true}]')
    assert load_rules() == good
    assert cache.read_rules(cache.rules_key(
        __import__("detectors.loader").loader.builtin_rule_files())) == good


def test_hyperscan_database_cached_and_a_corrupt_one_recompiled(cache_home, rng):
    rules = load_rules()
    token = github(rng)
    text = f"x = '{token}'\n".encode()
    first = Engine(rules, backend="hyperscan")
    [file] = cache_home.glob("hyperscan-*.cache")
    assert [m.secret for m in Engine(rules, backend="hyperscan").scan(text)] == [token]
    raw = file.read_bytes()
    digest, _, body = raw.partition(b"\n")
    key, _, payload = body.partition(b"\n")
    cache.store("hyperscan", key.decode(), b"\x00" * len(payload))  # checksum fine, database not
    assert [m.secret for m in Engine(rules, backend="hyperscan").scan(text)] == [token]
    assert first.scan(text) == Engine(rules, backend="regex").scan(text)


def test_a_few_rule_sets_are_kept_in_turn(cache_home, tmp_path):
    """Alternating rule sets (a `--rules` file or not) each keep their entry, up to KEEP."""
    path = tmp_path / "acme.toml"
    path.write_text(CUSTOM.format(n=8, example="a1b2c3d4"))
    load_rules()
    load_rules([path])
    assert len(list(cache_home.glob("rules-*.cache"))) == 2
    for n in range(9, 9 + cache.KEEP + 2):
        path.write_text(CUSTOM.format(n=n, example="a" * n))
        load_rules([path])
    assert len(list(cache_home.glob("rules-*.cache"))) == cache.KEEP


def test_the_rule_set_in_use_outlives_many_others(cache_home, tmp_path, monkeypatch):
    """Eviction goes by use, not by age: the built-in rules, loaded between each of more than KEEP
    other rule sets, are served from their entry every time while the others come and go."""
    from detectors import loader

    fresh = load_rules(cache=False)
    load_rules()
    parse = loader._load
    builtin = loader.builtin_rule_files()

    def only_custom(files):  # parsing the built-in files again means their entry was evicted
        assert list(files) != builtin, "the built-in rules' entry was evicted"
        return parse(files)

    monkeypatch.setattr(loader, "_load", only_custom)
    path = tmp_path / "acme.toml"
    for n in range(8, 8 + cache.KEEP + 2):
        path.write_text(CUSTOM.format(n=n, example="a" * n))
        load_rules([path])
        assert load_rules() == fresh
    assert len(list(cache_home.glob("rules-*.cache"))) == cache.KEEP
